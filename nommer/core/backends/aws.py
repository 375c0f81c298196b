"""backend = "aws": DynamoDB (or SimpleDB) for the job store, SQS queues,
S3 and http(s) for storage, EC2 instances for encoders. An encoder learns its
instance from the instance metadata service (IMDSv2), ends its own instance
when idle, and on a spot instance watches for interruption notices."""

from nommer.core.backends import NEW_JOBS, STATE_CHANGES, Backends, NoIdentity, Profile
from nommer.core.errors import ConfigError
from nommer.core.ports.storage import StorageRouter

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


STORES = {"dynamodb": _dynamodb_store, "simpledb": _simpledb_store}


def store(config):
    """The job store: DynamoDB unless the ``store`` setting says SimpleDB."""
    name = config.store or "dynamodb"
    if name not in STORES:
        raise ConfigError(f"setting 'store': {name!r} is not a store of backend = \"aws\" "
                          f"(one of: {', '.join(sorted(STORES))})")
    return STORES[name](config)


def queues(config):
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


def storage(config):
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


class AwsProfile(Profile):
    name = "aws"

    def adapters(self, config):
        job_store = store(config)
        try:
            new_jobs, state_changes = queues(config)
        except BaseException:
            job_store.close()
            raise
        return Backends(store=job_store, new_jobs=new_jobs, state_changes=state_changes,
                        storage=storage(config))

    def fleet(self, config):
        from nommer.core.adapters.ec2_fleet import Ec2Fleet
        from nommer.core.deploy.wheelhouse import warn_if_unpublished

        fleet = Ec2Fleet(config)
        warn_if_unpublished(config)
        return fleet

    def identify(self, config, instance_id):
        """An encoder started without ``--instance-id`` asks the instance
        metadata service for its instance id, and for its region when none
        is set (neither in the settings nor in boto3's defaults)."""
        import boto3

        from nommer.core.adapters.imds import Imds, ImdsUnavailable

        needs_region = not config.aws_region and not boto3.session.Session().region_name
        if instance_id and not needs_region:
            return config, instance_id
        try:
            identity = Imds(config.imds_endpoint).identity()
        except ImdsUnavailable as e:
            if not instance_id:
                raise NoIdentity(
                    f"cannot learn this instance's id from the instance metadata service "
                    f"at {config.imds_endpoint} (setting 'imds_endpoint'): {e}") from None
            raise ConfigError(
                "setting 'aws_region': no AWS region is set and the instance metadata "
                f"service at {config.imds_endpoint} (setting 'imds_endpoint') did not "
                f"give one: {e}") from None
        if needs_region:
            config = config.replace(aws_region=identity.region)
        return config, instance_id or identity.instance_id

    def end_machine(self, config, encoder_id):
        """Terminates the instance, when this cluster's fleet launched it."""
        from nommer.core.adapters.ec2_fleet import terminate_self

        return terminate_self(config.aws_region or None, config.cluster, encoder_id)

    def spot_watch(self, config, logger):
        """No service to watch on an on-demand instance, or when the service
        does not answer (not on EC2)."""
        from nommer.core.adapters.imds import Imds, ImdsUnavailable
        from nommer.core.encoder.spot import SpotWatch

        imds = Imds(config.imds_endpoint)
        try:
            market = SpotWatch(imds).market()
        except ImdsUnavailable as e:
            logger.info("no instance metadata service: not watching for spot interruptions",
                        error=str(e))
            return None, ""
        return (None if market == "on-demand" else imds), market

    def cost_instance_type(self, config):
        """The encoders' EC2 type (the launch template's, when unset, is not
        known here: ``aws``)."""
        return config.ec2_instance_type or "aws"


PROFILE = AwsProfile()
