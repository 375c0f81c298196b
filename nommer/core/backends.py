"""Pick the adapters of every port from the configuration.

Each adapter module imports its own heavy dependency, so the embedded default
never loads boto3 and the AWS set never opens SQLite.
"""

import dataclasses

from nommer.core.errors import ConfigError
from nommer.core.retrying import RetryingQueue, RetryingStore
from nommer.core.ports.storage import StorageRouter

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
    from nommer.core.security.netguard import AddressPolicy

    config.data_dir.mkdir(parents=True, exist_ok=True)
    db = config.db_path
    if config.store not in ("", "sqlite"):
        raise ConfigError(f"setting 'store': {config.store!r} needs backend = \"aws\"; "
                          "the local backend keeps jobs in SQLite (store = \"sqlite\" or empty)")
    return Backends(
        store=SqliteJobStore(db, retention_days=config.retention_days),
        new_jobs=SqliteWorkQueue(db, NEW_JOBS, visibility_timeout=config.lease_seconds),
        state_changes=SqliteWorkQueue(db, STATE_CHANGES, visibility_timeout=30.0),
        storage=StorageRouter([
            FileStorage(config.allowed_roots, excluded=config.private_paths,
                        rate=config.transfer_rate_limit, allow_overwrite=config.allow_overwrite),
            HttpStorage(AddressPolicy.from_config(config), rate=config.transfer_rate_limit),
        ]),
    )


# The state-change queue's messages are small and idempotent; one that fails
# this often is unreadable, and the job store holds the truth anyway.
STATE_CHANGE_MAX_RECEIVES = 10


def queue_prefix(config):
    from nommer.core.adapters.ec2_fleet import check_cluster

    return config.sqs_queue_prefix or f"{check_cluster(config.cluster)}-"


def _simpledb_store(config):
    from nommer.core.adapters.simpledb_store import SimpleDbJobStore

    return SimpleDbJobStore.from_config(config)


def _dynamodb_store(config):
    from nommer.core.adapters.dynamodb_store import DynamoDbJobStore

    return DynamoDbJobStore.from_config(config)


AWS_STORES = {"dynamodb": _dynamodb_store, "simpledb": _simpledb_store}


def aws_store(config):
    """The job store of AWS mode: DynamoDB unless the ``store`` setting says
    SimpleDB."""
    name = config.store or "dynamodb"
    if name not in AWS_STORES:
        raise ConfigError(f"setting 'store': {name!r} is not a store of backend = \"aws\" "
                          f"(one of: {', '.join(sorted(AWS_STORES))})")
    return AWS_STORES[name](config)


def aws_queues(config):
    """The new-job and state-change SQS queues, created when missing."""
    from nommer.core.adapters.sqs_queue import (
        MAX_RECEIVES, MAX_TIMEOUT, SqsPriorityQueue, SqsWorkQueue)

    if config.lease_seconds > MAX_TIMEOUT:
        raise ConfigError(f"setting 'lease_seconds': SQS holds a message at most {MAX_TIMEOUT} s, "
                          f"got {config.lease_seconds:g}")
    if config.max_attempts > MAX_RECEIVES:
        raise ConfigError(f"setting 'max_attempts': SQS counts at most {MAX_RECEIVES} receives, "
                          f"got {config.max_attempts}")
    prefix = queue_prefix(config)
    region = config.aws_region or None
    # One queue per priority class: <prefix>new-jobs-high, <prefix>new-jobs, <prefix>new-jobs-low.
    new_jobs = SqsPriorityQueue(prefix + NEW_JOBS, visibility_timeout=config.lease_seconds,
                                max_receives=config.max_attempts, region=region)
    try:
        state_changes = SqsWorkQueue(prefix + STATE_CHANGES, visibility_timeout=30,
                                     max_receives=STATE_CHANGE_MAX_RECEIVES, region=region)
    except BaseException:
        new_jobs.close()
        raise
    return new_jobs, state_changes


def aws_storage(config):
    """s3:// and http(s)://, and file:// only under the file_roots the
    operator lists (an instance's own disk is no place for sources)."""
    from nommer.core.adapters.local_storage import FileStorage, HttpStorage
    from nommer.core.adapters.s3_storage import S3Storage
    from nommer.core.security.netguard import AddressPolicy

    rate = config.transfer_rate_limit
    adapters = [S3Storage(config.aws_region or None, part_size=config.s3_part_size),
                HttpStorage(AddressPolicy.from_config(config), rate=rate)]
    if config.file_roots:
        adapters.append(FileStorage(config.file_roots, excluded=config.private_paths, rate=rate,
                                    allow_overwrite=config.allow_overwrite))
    return StorageRouter(adapters)


def _aws(config):
    store = aws_store(config)
    try:
        new_jobs, state_changes = aws_queues(config)
    except BaseException:
        store.close()
        raise
    return Backends(store=store, new_jobs=new_jobs, state_changes=state_changes,
                    storage=aws_storage(config))


BUILDERS = {"local": _local, "aws": _aws}


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
    if config.backend == "aws":
        from nommer.core.adapters.ec2_fleet import Ec2Fleet
        from nommer.core.deploy.wheelhouse import warn_if_unpublished

        fleet = Ec2Fleet(config)
        warn_if_unpublished(config)
        return fleet
    raise ConfigError(f"setting 'backend': no fleet for {config.backend!r}")


def end_own_machine(config, encoder_id):
    """Called by an encoder that stopped because it was idle. On AWS it
    terminates its instance, when the fleet launched it; True when it did.
    Locally the process just ends."""
    if config.backend != "aws":
        return False
    from nommer.core.adapters.ec2_fleet import terminate_self

    return terminate_self(config.aws_region or None, config.cluster, encoder_id)
