"""Pick the adapters of every port from the configuration.

Each adapter module imports its own heavy dependency, so the embedded default
never loads boto3 and the AWS set never opens SQLite.
"""

import dataclasses

from nommer.core.errors import ConfigError
from nommer.core.retrying import RetryingQueue, RetryingStore
from nommer.core.storage import StorageRouter

NEW_JOBS = "new-jobs"
STATE_CHANGES = "state-changes"


@dataclasses.dataclass
class Backends:
    store: object
    new_jobs: object
    state_changes: object
    storage: StorageRouter

    def close(self):
        for part in (self.new_jobs, self.state_changes, self.store):
            part.close()


def _local(config):
    from nommer.core.adapters.local_storage import FileStorage, HttpStorage
    from nommer.core.adapters.sqlite_queue import SqliteWorkQueue
    from nommer.core.adapters.sqlite_store import SqliteJobStore
    from nommer.core.netguard import AddressPolicy

    config.data_dir.mkdir(parents=True, exist_ok=True)
    db = config.db_path
    return Backends(
        store=SqliteJobStore(db),
        new_jobs=SqliteWorkQueue(db, NEW_JOBS, visibility_timeout=config.lease_seconds),
        state_changes=SqliteWorkQueue(db, STATE_CHANGES, visibility_timeout=30.0),
        storage=StorageRouter([
            FileStorage(config.allowed_roots, excluded=config.private_paths,
                        rate=config.transfer_rate_limit),
            HttpStorage(AddressPolicy.from_config(config), rate=config.transfer_rate_limit),
        ]),
    )


BUILDERS = {"local": _local}


def build(config):
    try:
        builder = BUILDERS[config.backend]
    except KeyError:
        known = ", ".join(sorted(BUILDERS))
        raise ConfigError(
            f"setting 'backend': {config.backend!r} is not available (one of: {known})"
        ) from None
    parts = builder(config)
    if config.fault_rate > 0:
        from nommer.testing.faults import wrap

        parts = wrap(parts, config.fault_rate)
    parts.store = RetryingStore(parts.store)
    parts.new_jobs = RetryingQueue(parts.new_jobs)
    parts.state_changes = RetryingQueue(parts.state_changes)
    return parts


def build_fleet(config):
    if config.backend == "local":
        from nommer.core.adapters.local_fleet import LocalFleet

        return LocalFleet(config)
    raise ConfigError(f"setting 'backend': no fleet for {config.backend!r}")
