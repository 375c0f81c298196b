"""Launches EC2 refuses show in /health and /fleet, the operator's fix takes
effect at once (POST /fleet/retry, `nommer fleet retry`), and a spot launch
the caller is not allowed falls back to on demand and says which permission
is missing. Against moto's server (which refuses a missing instance profile
as AWS does) and a real feeder process."""

import io
import time

import boto3
import botocore.awsrequest
import botocore.exceptions
import pytest

from nommer import cli
from nommer.core import config as config_mod
from nommer.core.adapters.ec2_fleet import Ec2Fleet, missing_permission
from tests.e2e.farm import wait_for
from tests.e2e.feeder import FeederProcess, call

AMI = "ami-12345678"
TOKEN = "launch-failure-token-0123456789"
# What EC2 answers a RunInstances that the caller's policy does not allow.
DENIED = ("You are not authorized to perform this operation. User: "
          "arn:aws:sts::123456789012:assumed-role/feeder/i-0abc is not authorized to perform: "
          "ec2:RunInstances on resource: arn:aws:ec2:us-east-1:123456789012:"
          "spot-instances-request/* because no identity-based policy allows the "
          "ec2:RunInstances action. Encoded authorization failure message: 4YhB0EXAMPLE")


def aws_config(**settings):
    return config_mod.load(environ={}, overrides={"backend": "aws", "ec2_ami": AMI, **settings})


def make_profile(name):
    boto3.client("iam").create_instance_profile(InstanceProfileName=name)


def test_a_failed_launch_is_kept_with_its_reason_and_a_retry_launches_at_once(aws_endpoint, unique):
    fleet = Ec2Fleet(aws_config(cluster=unique, ec2_instance_profile=unique))

    assert fleet.launch(1) == []
    error = fleet.problems()["launch_error"]
    assert error["code"] == "NoSuchEntity" and unique in error["message"]
    assert error["at"].endswith("Z") and error["next_try_in"] == 10

    make_profile(unique)  # the operator's fix
    assert fleet.launch(1) == []  # still waiting out the backoff
    fleet.retry_launches()
    [member] = fleet.launch(1)
    assert member.id.startswith("i-") and fleet.problems() == {}


def test_changed_launch_parameters_end_the_wait(aws_endpoint, unique):
    fleet = Ec2Fleet(aws_config(cluster=unique, ec2_instance_profile=unique + "-missing"))
    assert fleet.launch(1) == [] and fleet.problems()["launch_error"]
    make_profile(unique)
    fleet.config = aws_config(cluster=unique, ec2_instance_profile=unique)  # a new setting
    [member] = fleet.launch(1)
    assert member.id.startswith("i-")


@pytest.fixture
def deny_spot():
    """EC2's answer to a spot RunInstances the caller may not make, given
    through botocore's own before-call hook of the fleet's client; on-demand
    launches go to moto's server."""
    def install(fleet):
        def before_call(params, **_):
            if any(key.startswith("InstanceMarketOptions") for key in params["body"]):
                answer = botocore.awsrequest.AWSResponse(fleet.client.meta.endpoint_url, 403, {}, None)
                return answer, {"Error": {"Code": "UnauthorizedOperation", "Message": DENIED},
                              "ResponseMetadata": {"HTTPStatusCode": 403}}
            return None
        fleet.client.meta.events.register("before-call.ec2.RunInstances", before_call)
        return fleet
    return install


def test_a_spot_launch_not_allowed_falls_back_to_on_demand_and_names_the_permission(
        aws_endpoint, unique, deny_spot, ec2_client):
    fleet = deny_spot(Ec2Fleet(aws_config(cluster=unique, ec2_spot=True)))

    [member] = fleet.launch(1)

    [reservation] = ec2_client.describe_instances(InstanceIds=[member.id])["Reservations"]
    assert reservation["Instances"][0].get("InstanceLifecycle", "on-demand") == "on-demand"
    problems = fleet.problems()
    assert "launch_error" not in problems
    assert problems["spot_error"]["code"] == "UnauthorizedOperation"
    assert problems["spot_error"]["missing_permission"] == (
        "ec2:RunInstances on arn:aws:ec2:us-east-1:123456789012:spot-instances-request/*")


def test_health_names_the_permission_but_no_arn_or_account():
    from nommer.actors.gateway import fleet_health
    from nommer.core.adapters.ec2_fleet import launch_problem

    denied = botocore.exceptions.ClientError(
        {"Error": {"Code": "UnauthorizedOperation", "Message": DENIED}}, "RunInstances")
    [said] = fleet_health({"launch_error": launch_problem(denied)})
    assert said["kind"] == "launch_error" and said["at"]
    assert said["reason"] == ("cannot launch encoders: UnauthorizedOperation "
                              "(missing permission ec2:RunInstances)")
    assert fleet_health({}) == []


def test_the_permission_is_read_from_aws_messages():
    assert missing_permission(DENIED).startswith("ec2:RunInstances on arn:aws:ec2:")
    assert missing_permission("User: arn:aws:iam::1:user/x is not authorized to perform: "
                              "iam:PassRole on resource: arn:aws:iam::1:role/enc") == \
        "iam:PassRole on arn:aws:iam::1:role/enc"
    assert missing_permission("Instance profile nope not found") == ""


@pytest.fixture
def feeder(tmp_path, unique, simpledb_env, aws_endpoint):
    feeder = FeederProcess(tmp_path, [], token=TOKEN, backend="aws", cluster=unique,
                           ec2_ami=AMI, ec2_instance_profile=unique, min_encoders=1,
                           max_encoders=1, scale_interval=0.3)
    feeder.env.update(simpledb_env)
    yield feeder.start()
    assert feeder.stop() == 0, feeder.log()


def test_the_feeder_reports_failed_launches_and_retries_when_asked(feeder, unique):
    def degraded():
        status, health = feeder.get("/health")  # with the token: the whole report
        return health if health["status"] == "degraded" else None

    health = wait_for(degraded, 60, "/health to report the failed launch")
    # Without a token: degraded, and nothing more.
    assert call(feeder.base, "GET", "/health") == (200, {"status": "degraded"})
    [problem] = health["problems"]
    assert problem["kind"] == "launch_error" and "NoSuchEntity" in problem["reason"]
    assert "123456789012" not in str(health)
    status, fleet = feeder.get("/fleet")
    assert status == 200 and fleet["members"] == []
    assert "NoSuchEntity" in fleet["launch_error"]["message"] and fleet["launch_error"]["at"]
    assert call(feeder.base, "POST", "/fleet/retry")[0] == 401  # behind the token

    make_profile(unique)
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    status = cli.main(["--url", feeder.base, "--token", TOKEN, "fleet", "retry"], out, err)
    assert status == 0, err.getvalue()
    assert "launching again now" in out.getvalue()
    members = wait_for(lambda: feeder.get("/fleet")[1]["members"], 10, "the launch")
    assert members and time.monotonic() - started < 10  # not the 20 s of the backoff
    assert call(feeder.base, "GET", "/health")[1]["status"] == "ok"
    out = io.StringIO()
    assert cli.main(["--url", feeder.base, "--token", TOKEN, "fleet"], out, io.StringIO()) == 0
    assert members[0]["id"] in out.getvalue()
