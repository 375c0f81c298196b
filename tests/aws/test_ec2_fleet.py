"""Ec2Fleet against moto's EC2 (and IAM) over the wire."""

import base64

import boto3
import botocore.exceptions
import pytest

import nommer
from nommer.core import config as config_mod
from nommer.core.adapters.ec2_fleet import TAG_CLUSTER, TAG_ROLE, Ec2Fleet
from nommer.core.errors import ConfigError


@pytest.fixture
def aws_config(unique, aws_endpoint):
    """``aws_config(**settings)``: settings of the aws backend for a cluster
    no other test uses."""
    def make(**settings):
        return config_mod.load(environ={}, overrides={"backend": "aws", "cluster": unique,
                                                     **settings})
    return make


def described(ec2_client, instance_id):
    [reservation] = ec2_client.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservation["Instances"][0]


def tags_of(instance):
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def user_data_of(ec2_client, instance_id):
    value = ec2_client.describe_instance_attribute(
        InstanceId=instance_id, Attribute="userData")["UserData"]["Value"]
    return base64.b64decode(value).decode()


def test_launch_from_an_ami_tags_every_instance(aws_config, ami, ec2_client, unique):
    fleet = Ec2Fleet(aws_config(ec2_ami=ami))

    launched = fleet.launch(2)

    assert len(launched) == 2
    for member in launched:
        instance = described(ec2_client, member.id)
        assert member.id.startswith("i-") and member.state in ("starting", "running")
        assert instance["ImageId"] == ami and instance["InstanceType"] == "c5.large"
        assert tags_of(instance) == {TAG_CLUSTER: unique, TAG_ROLE: "encoder",
                                     "Name": f"{unique}-encoder"}
        assert f"nommer=={nommer.__version__}" in user_data_of(ec2_client, member.id)
    assert sorted(m.id for m in fleet.members()) == sorted(m.id for m in launched)


def test_the_fleet_is_found_by_tags_never_by_ami(aws_config, ami, ec2_client, unique):
    fleet = Ec2Fleet(aws_config(ec2_ami=ami))
    [member] = fleet.launch(1)
    # Same AMI, no tags: someone else's machine.
    ec2_client.run_instances(ImageId=ami, MinCount=1, MaxCount=1)
    # Same AMI, another cluster's tags.
    ec2_client.run_instances(ImageId=ami, MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": TAG_CLUSTER, "Value": unique + "-other"},
                                              {"Key": TAG_ROLE, "Value": "encoder"}]}])

    assert [m.id for m in Ec2Fleet(aws_config(ec2_ami=ami)).members()] == [member.id]


def test_launch_from_a_template_by_name_or_id(aws_config, ami, ec2_client, unique):
    template = ec2_client.create_launch_template(
        LaunchTemplateName=unique,
        LaunchTemplateData={"ImageId": ami, "InstanceType": "t3.small"},
    )["LaunchTemplate"]

    for reference in (unique, template["LaunchTemplateId"]):
        fleet = Ec2Fleet(aws_config(ec2_launch_template=reference))
        [member] = fleet.launch(1)
        instance = described(ec2_client, member.id)
        assert (instance["ImageId"], instance["InstanceType"]) == (ami, "t3.small")
        assert tags_of(instance)[TAG_CLUSTER] == unique


def test_network_key_and_instance_profile_settings_reach_the_instance(aws_config, ami, ec2_client, unique):
    vpc = ec2_client.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2_client.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    group = ec2_client.create_security_group(GroupName=unique, Description="encoders", VpcId=vpc)["GroupId"]
    ec2_client.create_key_pair(KeyName=unique)
    iam = boto3.client("iam")
    iam.create_instance_profile(InstanceProfileName=unique)

    fleet = Ec2Fleet(aws_config(ec2_ami=ami, ec2_instance_type="c6i.xlarge", ec2_subnet=subnet,
                                ec2_security_groups=[group], ec2_key_name=unique,
                                ec2_instance_profile=unique))
    [member] = fleet.launch(1)

    instance = described(ec2_client, member.id)
    assert instance["InstanceType"] == "c6i.xlarge"
    assert instance["SubnetId"] == subnet
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [group]
    assert instance["KeyName"] == unique
    assert instance["IamInstanceProfile"]["Arn"].endswith(f"instance-profile/{unique}")


def test_spot_when_asked(aws_config, ami, ec2_client):
    [member] = Ec2Fleet(aws_config(ec2_ami=ami, ec2_spot=True)).launch(1)
    assert described(ec2_client, member.id).get("InstanceLifecycle") == "spot"
    assert "spot" in member.detail


def refuse_spot(fleet, code):
    """Fault injection: moto always has spot capacity, so a hook on the
    client raises the ClientError EC2 sends when it has none, before the
    spot request leaves. On-demand requests go through untouched."""
    refused = []

    def hook(params, **_):
        # ``params`` is the request as serialized for EC2's query protocol.
        market = params["body"].get("InstanceMarketOptions.MarketType")
        if market:
            refused.append(market)
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": code, "Message": f"There is no {code} for you"},
                 "ResponseMetadata": {"HTTPStatusCode": 400}}, "RunInstances")

    fleet.client.meta.events.register("before-call.ec2.RunInstances", hook)
    return refused


@pytest.mark.parametrize("code", ["InsufficientInstanceCapacity", "SpotMaxPriceTooLow",
                                  "MaxSpotInstanceCountExceeded"])
def test_refused_spot_capacity_falls_back_to_on_demand(aws_config, ami, ec2_client, code):
    fleet = Ec2Fleet(aws_config(ec2_ami=ami, ec2_spot=True))
    refused = refuse_spot(fleet, code)

    [member] = fleet.launch(1)

    assert refused == ["spot"]
    assert "InstanceLifecycle" not in described(ec2_client, member.id)
    assert "on-demand" in member.detail


def test_each_member_says_its_market_at_launch_and_when_listed(aws_config, ami, ec2_client):
    fleet = Ec2Fleet(aws_config(ec2_ami=ami, ec2_spot=True))
    [spot] = fleet.launch(1)
    refuse_spot(fleet, "InsufficientInstanceCapacity")
    [on_demand] = fleet.launch(1)

    assert (spot.market, on_demand.market) == ("spot", "on-demand")
    listed = {m.id: m.market for m in fleet.members()}
    assert listed == {spot.id: "spot", on_demand.id: "on-demand"}


def launched_markets(fleet):
    """The market each RunInstances call of ``fleet`` asked for."""
    asked = []

    def hook(params, **_):
        asked.append(params["body"].get("InstanceMarketOptions.MarketType") or "on-demand")

    fleet.client.meta.events.register("before-call.ec2.RunInstances", hook)
    return asked


def test_spot_first_until_work_waited_longer_than_on_demand_after(aws_config, ami):
    fleet = Ec2Fleet(aws_config(ec2_ami=ami, ec2_spot=True, on_demand_after=60))
    asked = launched_markets(fleet)

    fleet.note_wait(None)  # nothing waits
    [first] = fleet.launch(1)
    fleet.note_wait(59.0)
    [second] = fleet.launch(1)
    fleet.note_wait(60.0)
    [third] = fleet.launch(1)
    fleet.note_wait(5.0)  # the wait is back under it: spot again
    [fourth] = fleet.launch(1)

    assert asked == ["spot", "spot", "on-demand", "spot"]
    assert [m.market for m in (first, second, third, fourth)] == ["spot", "spot", "on-demand", "spot"]


def test_on_demand_after_0_or_without_spot_changes_nothing(aws_config, ami):
    assert Ec2Fleet(aws_config(ec2_ami=ami, ec2_spot=True)).market_for_launch() == "spot"
    always = Ec2Fleet(aws_config(ec2_ami=ami, ec2_spot=True))
    always.note_wait(10_000.0)
    assert always.market_for_launch() == "spot"  # on_demand_after = 0: never
    plain = Ec2Fleet(aws_config(ec2_ami=ami, on_demand_after=1))
    plain.note_wait(10_000.0)
    assert plain.market_for_launch() == "on-demand"


def test_a_negative_on_demand_after_is_refused_naming_it():
    from nommer.core import config as config_mod
    from nommer.core.errors import ConfigError

    with pytest.raises(ConfigError, match="on_demand_after"):
        config_mod.load(environ={}, overrides={"on_demand_after": -1})


def test_a_launch_ec2_refuses_is_not_retried_at_once(aws_config, ami, unique):
    calls = []
    fleet = Ec2Fleet(aws_config(ec2_ami=ami, ec2_subnet="subnet-0123456789abcdef0"))
    fleet.client.meta.events.register("before-call.ec2.RunInstances",
                                      lambda **_: calls.append(1))

    assert fleet.launch(1) == []  # moto: InvalidSubnetID.NotFound
    assert fleet.launch(1) == []
    assert len(calls) == 1


def test_retire_terminates_members_only(aws_config, ami, ec2_client):
    fleet = Ec2Fleet(aws_config(ec2_ami=ami))
    [member, other] = fleet.launch(2)
    stranger = ec2_client.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]

    assert fleet.retire(member.id)
    assert not fleet.retire(stranger)
    assert not fleet.retire("local-1234-1")
    assert not fleet.retire("i-0123456789abcdef0")

    assert described(ec2_client, member.id)["State"]["Name"] in ("shutting-down", "terminated")
    assert described(ec2_client, stranger)["State"]["Name"] in ("pending", "running")
    assert [m.id for m in fleet.members()] == [other.id]


def test_stopping_the_feeder_leaves_encoders_running(aws_config, ami, ec2_client):
    fleet = Ec2Fleet(aws_config(ec2_ami=ami))
    [member] = fleet.launch(1)

    fleet.stop_all()

    assert described(ec2_client, member.id)["State"]["Name"] in ("pending", "running")


@pytest.mark.parametrize("settings, message", [
    ({}, "settings 'ec2_launch_template' and 'ec2_ami': the aws backend needs one of them"),
    ({"ec2_ami": "ubuntu-22.04"}, "setting 'ec2_ami': 'ubuntu-22.04' is not an AMI id"),
    ({"ec2_ami": "ami-12345678", "cluster": "my farm"}, "setting 'cluster': 'my farm' must be"),
])
def test_bad_settings_stop_the_start_naming_them(aws_config, settings, message):
    with pytest.raises(ConfigError) as e:
        Ec2Fleet(aws_config(**settings))
    assert message in str(e.value)


def test_an_instance_that_shuts_itself_down_is_terminated_not_stopped(aws_endpoint, ec2_client):
    import uuid

    template = f"t{uuid.uuid4().hex[:12]}"
    ec2_client.create_launch_template(LaunchTemplateName=template, LaunchTemplateData={
        "ImageId": "ami-12345678", "InstanceInitiatedShutdownBehavior": "stop"})
    for settings in ({"ec2_ami": "ami-12345678"}, {"ec2_launch_template": template}):
        config = config_mod.load(environ={}, overrides={"backend": "aws", "cluster": template,
                                                       **settings})
        [member] = Ec2Fleet(config).launch(1)
        answer = ec2_client.describe_instance_attribute(
            InstanceId=member.id, Attribute="instanceInitiatedShutdownBehavior")
        assert answer["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate", settings
