"""The farm's CloudFormation stack (deploy/cloudformation/nommer.yaml) and
`nommer aws deploy`: the template passes cfn-lint, creates the agreed job
table, nommer's queues and least-privilege roles, and a farm runs a job on
what it created (moto's CloudFormation, SSM public parameters, S3, SQS, EC2).

The job store of the farm test is the store the stack's outputs name when
this nommer has it (DynamoDB), else the SimpleDB store on nommer's test
server: the rest of the stack is the same either way."""

import io
import json
import pathlib
import subprocess
import sys
import tomllib

import boto3
import pytest

import nommer
from nommer import cli
from nommer.core import config as config_mod
from nommer.core.deploy import stack
from tests.aws.moto_server import free_port
from tests.e2e.farm import wait_for
from tests.e2e.feeder import FeederProcess

ROOT = pathlib.Path(nommer.__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "cloudformation" / "nommer.yaml"
AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
# Settings the DynamoDB store adds; until this nommer has it the farm test
# runs on SimpleDB and leaves them out.
DYNAMODB_SETTINGS = ("store", "dynamodb_table")


def template():
    from cfnlint.decode import decode_str

    data, problems = decode_str(TEMPLATE.read_text())
    assert not problems, problems
    return data


def actions(statements):
    found = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        found.update([statement["Action"]] if isinstance(statement["Action"], str)
                     else statement["Action"])
    return found


def role_actions(resource):
    [policy] = template()["Resources"][resource]["Properties"]["Policies"]
    return actions(policy["PolicyDocument"]["Statement"])


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = cli.main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_cfn_lint_passes_on_the_template():
    from cfnlint.api import lint_file

    problems = lint_file(TEMPLATE)
    assert problems == [], [str(p) for p in problems]


def test_the_job_table_is_the_one_the_store_expects():
    table = template()["Resources"]["JobTable"]["Properties"]
    assert table["TableName"] == {"Fn::Sub": "${Cluster}-jobs"}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    for name, hash_key in (("by_state", "state"), ("by_kind", "kind")):
        assert indexes[name]["KeySchema"] == [{"AttributeName": hash_key, "KeyType": "HASH"},
                                              {"AttributeName": "id", "KeyType": "RANGE"}]
        assert indexes[name]["Projection"] == {"ProjectionType": "ALL"}
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
        "pk": "S", "state": "S", "kind": "S", "id": "S"}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_every_output_is_a_nommer_setting():
    outputs = template()["Outputs"]
    keys = {stack.setting_key(name) for name in outputs}
    assert stack.setting_key("Ec2LaunchTemplate") == "ec2_launch_template"
    known = set(config_mod.SETTINGS_BY_NAME)
    pending = set() if "store" in known else set(DYNAMODB_SETTINGS)
    assert keys - known <= pending, keys - known
    assert {"backend", "cluster", "aws_region", "sqs_queue_prefix", "ec2_launch_template",
            "ec2_instance_profile", "wheelhouse", "dynamodb_table"} <= keys
    for name, output in outputs.items():  # the description names the key
        assert output["Description"].split()[0] == stack.setting_key(name)


@pytest.mark.parametrize("role, policy", [("FeederRole", "feeder-policy.json"),
                                          ("EncoderRole", "encoder-policy.json")])
def test_the_roles_allow_what_deploy_iam_allows_on_dynamodb_instead_of_simpledb(role, policy):
    shipped = actions(json.loads((ROOT / "deploy" / "iam" / policy).read_text())["Statement"])
    granted = role_actions(role)
    # The stack makes the table itself: its roles need not make one.
    makes_the_table = {"dynamodb:CreateTable", "dynamodb:UpdateTimeToLive", "dynamodb:DescribeTimeToLive"}
    assert {a for a in shipped if not a.startswith("sdb:")} - makes_the_table <= granted
    assert not granted & makes_the_table
    assert not any(a.startswith("sdb:") for a in granted)
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"} <= granted


def test_the_template_makes_every_new_job_queue_nommer_uses():
    from nommer.core.adapters.sqs_queue import DEAD_SUFFIX, priority_queue_names

    resources = template()["Resources"]
    made = {r["Properties"]["QueueName"]["Fn::Sub"]: name for name, r in resources.items()
            if r["Type"] == "AWS::SQS::Queue"}
    wanted = priority_queue_names("${Cluster}-new-jobs")
    assert set(wanted) | {q + DEAD_SUFFIX for q in wanted} <= set(made)
    [take] = [s for s in resources["EncoderRole"]["Properties"]["Policies"][0]["PolicyDocument"]
              ["Statement"] if s["Sid"] == "TakeJobs"]
    assert {r["Fn::GetAtt"][0] for r in take["Resource"]} == {made[q] for q in wanted}
    assert "sqs:SendMessage" in take["Action"]  # a job handed back is sent again
    shipped = json.loads((ROOT / "deploy" / "iam" / "encoder-policy.json").read_text())
    [take] = [s for s in shipped["Statement"] if s["Sid"] == "TakeJobs"]
    assert set(take["Resource"]) == {f"arn:aws:sqs:REGION:ACCOUNT_ID:{q}"
                                     for q in priority_queue_names("CLUSTER-new-jobs")}


def test_the_encoders_get_no_more_than_their_work_needs():
    granted = role_actions("EncoderRole")
    for never in ("sqs:CreateQueue", "ec2:RunInstances", "iam:PassRole", "ec2:CreateTags",
                  "s3:DeleteObject", "dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:Scan"):
        assert never not in granted
    sg = template()["Resources"]["EncoderSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in sg


def test_a_wrong_parameter_is_refused_before_anything_is_created(aws_endpoint, unique):
    status, _, err = run_cli("aws", "deploy", "--cluster", unique, "--parameter", "Clutser=x")
    assert status == 2 and "no parameter Clutser" in err
    status, _, err = run_cli("aws", "deploy", "--cluster", unique, "--parameter", "novalue")
    assert status == 2 and "'novalue' is not KEY=VALUE" in err
    status, _, err = run_cli("aws", "deploy", "--stack-name", "1bad_name")
    assert status == 2 and "--stack-name" in err
    status, _, err = run_cli("aws", "deploy", "--cluster", unique, "--media-bucket", "two..dots")
    assert status == 2 and "--media-bucket: bucket name 'two..dots'" in err
    names = [s["StackName"] for s in boto3.client("cloudformation").describe_stacks()["Stacks"]]
    assert unique not in names


def test_an_unreachable_cloudformation_is_a_message_not_a_traceback(
        aws_endpoint, unique, monkeypatch):
    from nommer.core.adapters import aws

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr(aws, "RETRIES", {"mode": "standard", "max_attempts": 1})
    status, out, err = run_cli("aws", "deploy", "--cluster", unique)
    assert status == 1 and out == ""
    assert f"nommer aws deploy: cannot look at stack {unique}: EndpointConnectionError" in err
    assert "Traceback" not in err


def test_write_refuses_a_file_that_sets_the_same_settings_itself(tmp_path):
    path = tmp_path / "nommer.toml"
    path.write_text('cluster = "mine"\nport = 8002\n')
    with pytest.raises(config_mod.ConfigError) as e:
        stack.write_settings(path, "s", {"cluster": "theirs", "backend": "aws"})
    assert "sets cluster itself" in str(e.value)
    assert path.read_text() == 'cluster = "mine"\nport = 8002\n'
    path.write_text("port = 8002\n")
    stack.write_settings(path, "s", {"cluster": "a", "lease_seconds": 60.0})
    stack.write_settings(path, "s", {"cluster": "b", "lease_seconds": 90.0})  # replaces its block
    assert tomllib.loads(path.read_text()) == {"cluster": "b", "lease_seconds": 90.0, "port": 8002}


def usable(settings, simpledb_env):
    """The settings a feeder of this nommer takes, and the environment of its store."""
    if "store" in config_mod.SETTINGS_BY_NAME:
        return settings, {}
    return {k: v for k, v in settings.items() if k not in DYNAMODB_SETTINGS}, simpledb_env


def test_deploy_creates_the_stack_and_a_farm_runs_a_job_on_it(
        aws_endpoint, unique, tmp_path, simpledb_env, sample_clip):
    toml = tmp_path / "nommer.toml"
    toml.write_text("max_encoders = 1\n")
    status, _, err = run_cli("aws", "deploy", "--cluster", unique, "--write", str(toml))
    assert status == 0, err
    written = tomllib.loads(toml.read_text())
    assert written["max_encoders"] == 1 and written["cluster"] == unique
    assert "nommer aws publish --config" in err

    # What the stack created is what nommer names and the store expects.
    table = boto3.client("dynamodb").describe_table(TableName=f"{unique}-jobs")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"by_state", "by_kind"}
    assert written["dynamodb_table"] == f"{unique}-jobs"
    sqs = boto3.client("sqs")
    queue = sqs.get_queue_url(QueueName=f"{unique}-new-jobs")["QueueUrl"]
    redrive = json.loads(sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])[
        "Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{unique}-new-jobs-dead")
    assert int(redrive["maxReceiveCount"]) == written["max_attempts"] == 3
    bucket = written["wheelhouse"][5:].split("/", 1)[0]
    image = boto3.client("ssm").get_parameter(Name=AL2023)["Parameter"]["Value"]

    # Deploying again changes nothing and gives the same settings.
    status, out, err = run_cli("aws", "deploy", "--cluster", unique)
    assert status == 0 and "up to date" in err, err
    assert tomllib.loads(out) == {k: v for k, v in written.items() if k != "max_encoders"}

    # A farm on those resources: the feeder launches from the stack's launch
    # template, an encoder takes the job, S3 to S3.
    settings, store_env = usable(written, simpledb_env)
    feeder = FeederProcess(tmp_path, [], **{**settings, "scale_interval": 0.5,
                                            "max_inactivity": 2, "lease_seconds": 20})
    feeder.env.update(store_env)
    feeder.start()
    encoder = None
    try:
        s3 = boto3.client("s3")
        s3.upload_file(str(sample_clip), bucket, "in/clip.mp4")
        status, job = feeder.post("/jobs", {"source": f"s3://{bucket}/in/clip.mp4", "outputs": [
            {"destination": f"s3://{bucket}/out/clip.mp4", "preset": "mp4-h264-360p"}]})
        assert status == 201, job
        [member] = wait_for(lambda: feeder.get("/fleet")[1]["members"], 30, "an instance launch")
        [reservation] = boto3.client("ec2").describe_instances(InstanceIds=[member["id"]])[
            "Reservations"]
        instance = reservation["Instances"][0]
        assert instance["ImageId"] == image  # Amazon Linux 2023, from the launch template
        assert instance["IamInstanceProfile"]["Arn"].endswith(f"instance-profile/{unique}-encoder")
        with open(tmp_path / "encoder.log", "ab") as log:
            encoder = subprocess.Popen(
                [sys.executable, "-m", "nommer.encoder", "--instance-id", member["id"]],
                env={**feeder.env, "NOMMER_DATA_DIR": str(tmp_path / "encoder-data")},
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        done = feeder.wait_job(job["id"], timeout=60)
        assert done["state"] == "FINISHED", (done, (tmp_path / "encoder.log").read_text()[-3000:])
        assert s3.head_object(Bucket=bucket, Key="out/clip.mp4")["ContentLength"] > 1000
    finally:
        if encoder is not None and encoder.poll() is None:
            encoder.kill()
            encoder.wait()
        assert feeder.stop() == 0, feeder.log()


def test_the_feeder_instance_gets_the_same_settings_as_the_outputs():
    import re

    script = template()["Resources"]["FeederInstance"]["Properties"]["UserData"]["Fn::Base64"][
        "Fn::Sub"][0]
    toml = script.split("<<'TOML'\n", 1)[1].split("\nTOML\n", 1)[0]
    values = {"AWS::Region": "eu-west-1", "Cluster": "prod", "JobTable": "prod-jobs",
              "EncoderLaunchTemplate": "lt-0123456789abcdef0",
              "EncoderInstanceProfile": "prod-encoder", "Name": "media-bucket",
              "LeaseSeconds": "60", "MaxAttempts": "3"}
    settings = tomllib.loads(re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], toml))
    outputs = {stack.setting_key(name) for name in template()["Outputs"]}
    assert set(settings) == outputs | {"data_dir", "log_format"}
    known = {k: v for k, v in settings.items() if k in config_mod.SETTINGS_BY_NAME}
    config = config_mod.load(environ={}, overrides=known)  # every value is valid
    assert config.wheelhouse == "s3://media-bucket/prod/wheelhouse/"
    assert "--role feeder" in script and '--version "${NommerVersion}"' in script
