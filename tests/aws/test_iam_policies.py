"""The IAM policies in deploy/iam/ allow every AWS call the feeder and the
encoders make (recorded from real runs against moto's server), and the
encoders' policy allows nothing they should not do."""

import json
import pathlib
import threading

import pytest

import nommer
from nommer.core import backends
from nommer.core import config as config_mod
from nommer.core.adapters import aws
from nommer.core.adapters.ec2_fleet import Ec2Fleet, terminate_self
from nommer.core.adapters.s3_storage import S3Storage
from nommer.core.errors import Canceled

POLICIES = pathlib.Path(nommer.__file__).resolve().parent.parent / "deploy" / "iam"
SERVICE_PREFIX = {"sqs": "sqs", "ec2": "ec2", "s3": "s3", "sdb": "sdb", "iam": "iam"}
# S3 operations whose IAM action has another name.
S3_ACTIONS = {"CreateMultipartUpload": "PutObject", "UploadPart": "PutObject",
              "CompleteMultipartUpload": "PutObject", "HeadObject": "GetObject"}


def allowed(name):
    policy = json.loads((POLICIES / name).read_text())
    actions = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and statement["Sid"].isalnum()
        found = statement["Action"]
        actions.update([found] if isinstance(found, str) else found)
    return actions


@pytest.fixture
def calls(monkeypatch):
    """Every AWS operation the code under test calls, as IAM actions."""
    seen = set()
    make = aws.client

    def recording(service, *args, **kwargs):
        client = make(service, *args, **kwargs)

        def note(model, **_):
            action = S3_ACTIONS.get(model.name, model.name) if service == "s3" else model.name
            seen.add(f"{SERVICE_PREFIX[service]}:{action}")

        client.meta.events.register(f"before-call.{service}", note)
        return client

    monkeypatch.setattr(aws, "client", recording)
    return seen


def settings(unique, **more):
    return config_mod.load(environ={}, overrides={"backend": "aws", "cluster": unique,
                                                 "ec2_ami": "ami-12345678", **more})


def test_the_feeder_policy_allows_what_the_feeder_calls(aws_endpoint, unique, calls):
    config = settings(unique)
    new_jobs, state_changes = backends.aws_queues(config)
    try:
        new_jobs.send("{}")
        new_jobs.depth()
        state_changes.send("{}")
        for message in state_changes.receive(max_messages=10):
            state_changes.delete(message.receipt)
        for letter in new_jobs.dead_letters():
            new_jobs.forget_dead_letter(letter.receipt)
        fleet = Ec2Fleet(config)
        [member] = fleet.launch(1)
        fleet.members()
        fleet.retire(member.id)
    finally:
        new_jobs.close()
        state_changes.close()

    assert calls  # recorded
    assert calls <= allowed("feeder-policy.json"), calls - allowed("feeder-policy.json")


def test_the_encoder_policy_allows_what_an_encoder_calls_and_no_more(
        aws_endpoint, unique, bucket, s3_client, tmp_path, monkeypatch, calls):
    config = settings(unique, s3_part_size=5 * 1024 * 1024)
    feeder_side, state_side = backends.aws_queues(config)  # the feeder's doing
    feeder_side.send("{}")
    feeder_side.close()
    state_side.close()
    [instance] = Ec2Fleet(config).launch(1)
    s3_client.put_object(Bucket=bucket, Key="in.mov", Body=b"source")
    big = tmp_path / "out.mp4"
    big.write_bytes(b"x" * (11 * 1024 * 1024))
    calls.clear()

    new_jobs, state_changes = backends.aws_queues(config)
    try:
        [message] = new_jobs.receive(visibility_timeout=30)
        new_jobs.extend(message.receipt, 60)
        state_changes.send("{}")
        new_jobs.delete(message.receipt)
        new_jobs.release("gone")
    finally:
        new_jobs.close()
        state_changes.close()
    storage = S3Storage(part_size=5 * 1024 * 1024)
    storage.fetch(f"s3://{bucket}/in.mov", tmp_path / "in.mov")
    storage.put(big, f"s3://{bucket}/out.mp4")
    cancel = threading.Event()
    with pytest.raises(Canceled):  # an aborted multipart upload
        storage.put(big, f"s3://{bucket}/cut.mp4", cancel=cancel,
                    progress=lambda done, total: done > 1024 * 1024 and cancel.set())
    assert terminate_self(None, unique, instance.id)

    encoder = allowed("encoder-policy.json")
    assert {"sqs:GetQueueUrl", "s3:AbortMultipartUpload", "ec2:TerminateInstances"} <= calls
    assert calls <= encoder, calls - encoder
    for never in ("sqs:CreateQueue", "ec2:RunInstances", "iam:PassRole", "sdb:CreateDomain",
                  "ec2:CreateTags", "s3:DeleteObject"):
        assert never not in encoder
