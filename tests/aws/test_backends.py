"""backend = "aws": which adapters the factory builds, with what names."""

import json
import os
import subprocess
import sys

import boto3
import pytest

from nommer.core import backends
from nommer.core.backends import aws as aws_backend
from nommer.core import config as config_mod
from nommer.core.adapters.ec2_fleet import Ec2Fleet
from nommer.core.adapters.s3_storage import S3Storage
from nommer.core.errors import ConfigError, InvalidInput

STORE_MODULE = "nommer.core.adapters.simpledb_store"


def aws_config(**settings):
    return config_mod.load(environ={}, overrides={"backend": "aws", **settings})


def redrive(queue):
    attributes = queue.client.get_queue_attributes(
        QueueUrl=queue.url, AttributeNames=["RedrivePolicy", "VisibilityTimeout"])["Attributes"]
    return int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"]), attributes["VisibilityTimeout"]


def test_queues_are_named_after_the_cluster_with_dead_letter_queues(aws_endpoint, unique):
    new_jobs, state_changes = aws_backend.queues(
        aws_config(cluster=unique, max_attempts=4, lease_seconds=90))
    try:
        assert (new_jobs.name, state_changes.name) == (f"{unique}-new-jobs", f"{unique}-state-changes")
        # One new-job queue per priority class, each with its dead-letter queue.
        assert [q.name for q in new_jobs.queues.values()] == [
            f"{unique}-new-jobs-high", f"{unique}-new-jobs", f"{unique}-new-jobs-low"]
        for queue in new_jobs.queues.values():
            assert redrive(queue) == (4, "90")
        assert redrive(state_changes) == (aws_backend.STATE_CHANGE_MAX_RECEIVES, "30")
    finally:
        new_jobs.close()
        state_changes.close()


def test_a_queue_prefix_replaces_the_cluster_name(aws_endpoint, unique):
    new_jobs, state_changes = aws_backend.queues(aws_config(sqs_queue_prefix=f"{unique}_"))
    new_jobs.close()
    state_changes.close()
    assert new_jobs.name == f"{unique}_new-jobs"


def test_storage_is_s3_and_http_and_files_only_under_listed_roots(tmp_path):
    storage = aws_backend.storage(aws_config(s3_part_size=6 * 1024 * 1024))
    assert isinstance(storage.adapter("s3://bucket/k"), S3Storage)
    assert storage.adapter("s3://bucket/k").part_size == 6 * 1024 * 1024
    storage.check("https://cdn.example/in.mov", write=False, field="source")
    with pytest.raises(InvalidInput) as e:
        storage.check(f"file://{tmp_path}/in.mov", write=False, field="source")
    assert "scheme 'file' is not supported here" in str(e.value)

    storage = aws_backend.storage(aws_config(file_roots=[str(tmp_path)]))
    storage.check(f"file://{tmp_path}/in.mov", write=False, field="source")
    with pytest.raises(InvalidInput):  # the working directory is not a root on AWS
        storage.check(f"file://{os.getcwd()}/in.mov", write=False, field="source")


def test_the_fleet_is_ec2(aws_endpoint, unique):
    assert isinstance(backends.build_fleet(aws_config(cluster=unique, ec2_ami="ami-12345678")), Ec2Fleet)


@pytest.mark.parametrize("settings, message", [
    ({"cluster": "no spaces"}, "setting 'cluster'"),
    ({"sqs_queue_prefix": "dots.are.not.allowed-"}, "setting 'sqs_queue_prefix'"),
    ({"lease_seconds": 50000}, "setting 'lease_seconds': SQS holds a message at most 43200 s"),
    ({"max_attempts": 1001}, "setting 'max_attempts': SQS counts at most 1000 receives"),
])
def test_bad_settings_stop_the_build_naming_them(aws_endpoint, unique, settings, message):
    with pytest.raises(ConfigError) as e:
        aws_backend.queues(aws_config(cluster=unique, **settings) if "cluster" not in settings
                            else aws_config(**settings))
    assert message in str(e.value)
    # nothing half-created: no queue of that cluster exists
    client = boto3.client("sqs")
    assert not client.list_queues(QueueNamePrefix=unique).get("QueueUrls")


def test_the_local_backend_never_loads_boto3(tmp_path):
    script = (
        "import sys\n"
        "from nommer.core import backends, config\n"
        "import nommer.feeder, nommer.encoder\n"
        f"parts = backends.build(config.load(environ={{'NOMMER_DATA_DIR': {str(tmp_path)!r}}}))\n"
        "backends.build_fleet(config.load(environ={}))\n"
        "parts.close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    assert out.stdout.strip() == "[]"


def test_the_aws_store_is_dynamodb_unless_the_store_setting_says_simpledb(
        aws_endpoint, simpledb_env, unique, monkeypatch):
    from nommer.core.adapters.dynamodb_store import DynamoDbJobStore
    from nommer.core.adapters.simpledb_store import SimpleDbJobStore

    store = aws_backend.store(aws_config(cluster=unique))
    assert isinstance(store, DynamoDbJobStore) and store.table == f"{unique}-jobs"
    named = aws_backend.store(aws_config(cluster=unique, store="dynamodb",
                                          dynamodb_table=f"{unique}.table"))
    assert named.table == f"{unique}.table"
    monkeypatch.setenv("AWS_ENDPOINT_URL_SIMPLEDB", simpledb_env["AWS_ENDPOINT_URL_SIMPLEDB"])
    old = aws_backend.store(aws_config(cluster=unique, store="simpledb", retention_days=7))
    assert isinstance(old, SimpleDbJobStore) and old.retention_days == 7


@pytest.mark.parametrize("region", ["eu-north-1", "ap-south-2", "us-east-2"])
def test_simpledb_outside_its_regions_is_refused_naming_the_settings(monkeypatch, region):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SIMPLEDB"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError) as e:
        aws_backend.store(aws_config(store="simpledb", aws_region=region))
    assert "setting 'aws_region'" in str(e.value) and "'store'" in str(e.value)
    assert region in str(e.value) and "us-east-1" in str(e.value)


def test_an_endpoint_for_simpledb_skips_the_region_check():
    from nommer.core.adapters.simpledb_store import check_region

    check_region("eu-north-1", environ={"AWS_ENDPOINT_URL_SIMPLEDB": "http://127.0.0.1:1"})
    check_region("eu-north-1", environ={"AWS_ENDPOINT_URL": "http://127.0.0.1:1"})
    check_region("eu-west-1", environ={})
    with pytest.raises(ConfigError):
        check_region("eu-north-1", environ={"AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:1"})


@pytest.mark.parametrize("settings, message", [
    ({"store": "dynamodb"}, "setting 'store'"),
    ({"store": "simpledb"}, "setting 'store'"),
])
def test_an_aws_store_on_the_local_backend_is_refused(tmp_path, settings, message):
    with pytest.raises(ConfigError) as e:
        backends.build(config_mod.load(environ={}, overrides={"data_dir": str(tmp_path), **settings}))
    assert message in str(e.value)
    assert not (tmp_path / "nommer.sqlite3").exists()


def test_the_aws_backend_refuses_sqlite_as_its_store(unique):
    with pytest.raises(ConfigError) as e:
        aws_backend.store(aws_config(cluster=unique, store="sqlite"))
    assert "setting 'store'" in str(e.value)


@pytest.mark.parametrize("settings, setting", [
    ({"dynamodb_table": "no spaces here"}, "dynamodb_table"),
    ({"dynamodb_table": "ab"}, "dynamodb_table"),
])
def test_a_bad_table_name_is_refused_naming_the_setting(settings, setting):
    with pytest.raises(ConfigError) as e:
        aws_backend.store(aws_config(**settings))
    assert f"setting {setting!r}" in str(e.value)
