"""The IAM policies in deploy/iam/ allow every AWS call the feeder and the
encoders make (recorded from real runs against moto's server), and the
encoders' policy allows nothing they should not do."""

import json
import pathlib
import threading

import pytest

import nommer
from nommer.core.backends import aws as aws_backend
from nommer.core import config as config_mod
from nommer.core.adapters import aws
from nommer.core.adapters.ec2_fleet import Ec2Fleet, terminate_self
from nommer.core.adapters.s3_storage import S3Storage
from nommer.core.errors import Canceled

POLICIES = pathlib.Path(nommer.__file__).resolve().parent.parent / "deploy" / "iam"
SERVICE_PREFIX = {"sqs": "sqs", "ec2": "ec2", "s3": "s3", "sdb": "sdb", "iam": "iam", "dynamodb": "dynamodb"}
# DynamoDB operations IAM authorises as others: a transaction as the writes in it.
DYNAMODB_ACTIONS = {"TransactWriteItems": ("PutItem", "UpdateItem", "ConditionCheckItem")}
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
            for each in DYNAMODB_ACTIONS.get(action, (action,)) if service == "dynamodb" else (action,):
                seen.add(f"{SERVICE_PREFIX[service]}:{each}")

        client.meta.events.register(f"before-call.{service}", note)
        return client

    monkeypatch.setattr(aws, "client", recording)
    return seen


def settings(unique, **more):
    return config_mod.load(environ={}, overrides={"backend": "aws", "cluster": unique,
                                                 "ec2_ami": "ami-12345678", **more})


def test_the_feeder_policy_allows_what_the_feeder_calls(aws_endpoint, unique, calls):
    config = settings(unique)
    new_jobs, state_changes = aws_backend.queues(config)
    try:
        for priority in (10, 0, -10):
            new_jobs.send("{}", priority=priority)
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
    feeder_side, state_side = aws_backend.queues(config)  # the feeder's doing
    feeder_side.send("{}")
    feeder_side.close()
    state_side.close()
    [instance] = Ec2Fleet(config).launch(1)
    s3_client.put_object(Bucket=bucket, Key="in.mov", Body=b"source")
    big = tmp_path / "out.mp4"
    big.write_bytes(b"x" * (11 * 1024 * 1024))
    calls.clear()

    new_jobs, state_changes = aws_backend.queues(config)
    try:
        [message] = new_jobs.receive(visibility_timeout=30)
        new_jobs.extend(message.receipt, 60)
        state_changes.send("{}")
        new_jobs.send("{}", priority=5)  # a job handed back (a spot interruption)
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


def test_the_policies_allow_what_the_dynamodb_store_calls(aws_endpoint, unique, calls):
    from nommer.core.adapters.dynamodb_store import DynamoDbJobStore
    from nommer.core.model.jobs import Job, State

    store = DynamoDbJobStore(f"{unique}-jobs")  # the feeder makes the table when it is missing
    job = store.create(Job.new("s3://b/in.mov", [{"destination": "s3://b/out.mp4", "preset": "m4a-aac"}]))
    store.list(limit=5)
    store.list(state=State.PENDING, limit=5)
    store.unfinished()
    store.counts()
    feeder = set(calls)
    calls.clear()

    encoder_side = DynamoDbJobStore(f"{unique}-jobs", create_table=False)
    claimed = encoder_side.update(job.transition(State.DOWNLOADING))
    encoder_side.update(claimed.transition(State.ERROR, error_code="SOURCE_NOT_FOUND"))
    encoder_side.heartbeat("i-0123", {"slots": 2})
    encoder_side.get(job.id)
    encoder_side.encoders()
    encoder = set(calls)
    store.forget_encoder("i-0123")  # the Reaper's, on the feeder
    feeder |= set(calls) - encoder

    assert {"dynamodb:CreateTable", "dynamodb:Query", "dynamodb:PutItem"} <= feeder
    assert feeder <= allowed("feeder-policy.json"), feeder - allowed("feeder-policy.json")
    assert {"dynamodb:UpdateItem", "dynamodb:GetItem"} <= encoder
    assert encoder <= allowed("encoder-policy.json"), encoder - allowed("encoder-policy.json")
    assert "dynamodb:CreateTable" not in allowed("encoder-policy.json")


# -- resources and conditions, not only action names ---------------------------------

PLACEHOLDERS = {"REGION": "eu-west-1", "ACCOUNT_ID": "123456789012", "CLUSTER": "media",
                "ENCODER_ROLE": "media-encoder", "MEDIA_BUCKET": "media-bucket"}


def _fill(text):
    for name, value in PLACEHOLDERS.items():
        text = text.replace(name, value)
    return text


def _matches(pattern, value):
    import fnmatch

    return fnmatch.fnmatchcase(value, pattern)


def _as_list(value):
    return [value] if isinstance(value, str) else list(value)


def policy_allows(name, action, resource, context=None):
    """Whether policy ``name`` allows ``action`` on ``resource`` with the
    request's condition ``context``: IAM's evaluation of Allow statements with
    wildcards and StringEquals/StringLike, which is all these policies use."""
    context = context or {}
    policy = json.loads(_fill((POLICIES / name).read_text()))
    for statement in policy["Statement"]:
        if not any(_matches(a, action) for a in _as_list(statement["Action"])):
            continue
        if not any(_matches(r, resource) for r in _as_list(statement["Resource"])):
            continue
        conditions = statement.get("Condition", {})
        assert set(conditions) <= {"StringEquals", "StringLike"}, conditions
        if all(key in context and any(_matches(v, context[key]) if op == "StringLike"
                                      else v == context[key] for v in _as_list(values))
               for op, block in conditions.items() for key, values in block.items()):
            return True
    return False


def spot_launch_authorizations(params):
    """What IAM authorizes for one RunInstances call with these parameters
    (AWS's EC2 user guide, "Launch instances (RunInstances)" and "Spot
    Instance permissions"): RunInstances on every resource it uses and
    creates, CreateTags on what it tags (with ec2:CreateAction), PassRole of
    the instance profile's role, and the Spot service-linked role."""
    arn = "arn:aws:ec2:eu-west-1:123456789012:"
    tags = {f"aws:RequestTag/{t['Key']}": t["Value"]
            for spec in params["TagSpecifications"] for t in spec["Tags"]}
    checks = [("ec2:RunInstances", arn + "instance/i-0123456789abcdef0", tags),
              ("ec2:RunInstances", arn + "volume/vol-0123456789abcdef0", tags),
              ("ec2:RunInstances", arn + "network-interface/eni-0123456789abcdef0", {})]
    if "ImageId" in params:
        checks.append(("ec2:RunInstances", f"arn:aws:ec2:eu-west-1::image/{params['ImageId']}", {}))
    if "SubnetId" in params:
        checks.append(("ec2:RunInstances", arn + f"subnet/{params['SubnetId']}", {}))
    for group in params.get("SecurityGroupIds", []):
        checks.append(("ec2:RunInstances", arn + f"security-group/{group}", {}))
    if "KeyName" in params:
        checks.append(("ec2:RunInstances", arn + f"key-pair/{params['KeyName']}", {}))
    if "LaunchTemplate" in params:
        checks.append(("ec2:RunInstances", arn + "launch-template/lt-0123456789abcdef0", {}))
    if "InstanceMarketOptions" in params:
        checks.append(("ec2:RunInstances", arn + "spot-instances-request/sir-0123abcd", {}))
        checks.append(("iam:CreateServiceLinkedRole",
                       "arn:aws:iam::123456789012:role/aws-service-role/spot.amazonaws.com/"
                       "AWSServiceRoleForEC2Spot", {"iam:AWSServiceName": "spot.amazonaws.com"}))
    for spec in params["TagSpecifications"]:
        checks.append(("ec2:CreateTags", arn + f"{spec['ResourceType']}/x-0123",
                       {"ec2:CreateAction": "RunInstances"}))
    if "IamInstanceProfile" in params:
        checks.append(("iam:PassRole", "arn:aws:iam::123456789012:role/media-encoder",
                       {"iam:PassedToService": "ec2.amazonaws.com"}))
    return checks


def test_the_feeder_policy_allows_a_spot_launch_on_every_resource_it_touches(
        aws_endpoint, monkeypatch):
    config = config_mod.load(environ={}, overrides={
        "backend": "aws", "cluster": "media", "ec2_spot": True,
        "ec2_launch_template": "media-encoder", "ec2_ami": "ami-12345678",
        "ec2_subnet": "subnet-0123abcd", "ec2_security_groups": ["sg-0123abcd"],
        "ec2_key_name": "ops", "ec2_instance_profile": "media-encoder"})
    fleet = Ec2Fleet(config)
    sent = []
    monkeypatch.setattr(fleet, "_run", lambda params: sent.append(params) or [])
    fleet.launch(1)
    [spot] = sent
    assert spot["InstanceMarketOptions"]["MarketType"] == "spot"

    for action, resource, context in spot_launch_authorizations(spot):
        assert policy_allows("feeder-policy.json", action, resource, context), (action, resource)


@pytest.mark.parametrize("action, resource, context", [
    # Instances of another cluster, or untagged ones.
    ("ec2:RunInstances", "arn:aws:ec2:eu-west-1:123456789012:instance/i-1",
     {"aws:RequestTag/nommer:cluster": "other", "aws:RequestTag/nommer:role": "encoder"}),
    ("ec2:RunInstances", "arn:aws:ec2:eu-west-1:123456789012:instance/i-1", {}),
    # Tags outside a launch.
    ("ec2:CreateTags", "arn:aws:ec2:eu-west-1:123456789012:instance/i-1", {}),
    ("ec2:CreateTags", "arn:aws:ec2:eu-west-1:123456789012:instance/i-1",
     {"ec2:CreateAction": "CreateTags"}),
    # Another role, or to another service.
    ("iam:PassRole", "arn:aws:iam::123456789012:role/admin", {"iam:PassedToService": "ec2.amazonaws.com"}),
    ("iam:PassRole", "arn:aws:iam::123456789012:role/media-encoder",
     {"iam:PassedToService": "lambda.amazonaws.com"}),
    # Another service-linked role.
    ("iam:CreateServiceLinkedRole",
     "arn:aws:iam::123456789012:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot",
     {"iam:AWSServiceName": "elasticmapreduce.amazonaws.com"}),
    # Terminating what is not the cluster's encoder.
    ("ec2:TerminateInstances", "arn:aws:ec2:eu-west-1:123456789012:instance/i-1",
     {"ec2:ResourceTag/nommer:cluster": "other", "ec2:ResourceTag/nommer:role": "encoder"}),
])
def test_the_feeder_policy_refuses_what_it_should(action, resource, context):
    assert not policy_allows("feeder-policy.json", action, resource, context)


def test_the_encoder_policy_ends_only_its_clusters_encoders():
    mine = {"ec2:ResourceTag/nommer:cluster": "media", "ec2:ResourceTag/nommer:role": "encoder"}
    instance = "arn:aws:ec2:eu-west-1:123456789012:instance/i-1"
    assert policy_allows("encoder-policy.json", "ec2:TerminateInstances", instance, mine)
    assert not policy_allows("encoder-policy.json", "ec2:TerminateInstances", instance,
                             {**mine, "ec2:ResourceTag/nommer:cluster": "other"})
    assert not policy_allows("encoder-policy.json", "s3:GetObject", "arn:aws:s3:::elsewhere/k")
    assert policy_allows("encoder-policy.json", "s3:PutObject", "arn:aws:s3:::media-bucket/out/a.ts")
