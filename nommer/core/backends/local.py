"""backend = "local", the embedded default: SQLite for the job store and the
queues, local files and http(s) for storage, encoder processes on this
machine, each with a pid file so that a feeder started again finds them."""

from nommer.core.backends import NEW_JOBS, STATE_CHANGES, Backends, Profile
from nommer.core.errors import ConfigError
from nommer.core.ports.storage import StorageRouter


class LocalProfile(Profile):
    name = "local"

    def adapters(self, config):
        from nommer.core.adapters.local_storage import FileStorage, HttpStorage
        from nommer.core.adapters.sqlite_queue import SqliteWorkQueue
        from nommer.core.adapters.sqlite_store import SqliteJobStore
        from nommer.core.security.netguard import AddressPolicy

        if config.store not in ("", "sqlite"):
            raise ConfigError(f"setting 'store': {config.store!r} needs backend = \"aws\"; "
                              "the local backend keeps jobs in SQLite (store = \"sqlite\" or empty)")
        config.data_dir.mkdir(parents=True, exist_ok=True)
        db = config.db_path
        return Backends(
            store=SqliteJobStore(db, retention_days=config.retention_days, synchronous=config.sqlite_synchronous),
            new_jobs=SqliteWorkQueue(db, NEW_JOBS, visibility_timeout=config.lease_seconds,
                                     synchronous=config.sqlite_synchronous),
            state_changes=SqliteWorkQueue(db, STATE_CHANGES, visibility_timeout=30.0,
                                          synchronous=config.sqlite_synchronous),
            storage=StorageRouter([
                FileStorage(config.allowed_roots, excluded=config.private_paths,
                            rate=config.transfer_rate_limit, allow_overwrite=config.allow_overwrite),
                HttpStorage(AddressPolicy.from_config(config), rate=config.transfer_rate_limit),
            ]),
        )

    def fleet(self, config):
        from nommer.core.adapters.local_fleet import LocalFleet

        return LocalFleet(config)

    def prepare_machine(self, config, encoder_id, logger):
        """The pid file the local fleet finds this encoder again by after a
        feeder restart, and away with the work folders of encoders that died
        without cleaning up."""
        from nommer.core.adapters.local_fleet import remove_dead_workdirs, write_pid_file

        pid_file = write_pid_file(config, encoder_id)
        for name in remove_dead_workdirs(config):
            logger.info("removed the work folder of a dead encoder", folder=name)
        return lambda: pid_file.unlink(missing_ok=True)


PROFILE = LocalProfile()
