"""``python -m nommer.testing.aws``: AWS mode offline, in one command.

Starts moto's server (SQS, S3, EC2, DynamoDB, CloudFormation...), nommer's
SimpleDB server and an IMDSv2 stand-in on loopback, makes a media bucket and
one encoder instance in moto for the stand-in to speak for, and prints the
environment that points the feeder, an encoder and boto3 at them. It serves
until Ctrl-C or SIGTERM.

    python -m nommer.testing.aws --env-file aws-trial.env
    . ./aws-trial.env
    python -m nommer.feeder           # on DynamoDB, SQS, S3 and EC2, all moto's
    python -m nommer.encoder          # as the instance the stand-in names

Nothing leaves the machine: the credentials are moto's fake ones.
"""

import argparse
import os
import shlex
import signal
import sys
import tempfile
import threading

from nommer.testing.imds import ImdsServer
from nommer.testing.moto import CREDENTIALS, MotoServer


def _launch_encoder_instance(ec2, cluster):
    """One instance of the cluster's encoders, as the feeder would tag it."""
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    tags = [{"Key": "nommer:cluster", "Value": cluster}, {"Key": "nommer:role", "Value": "encoder"},
            {"Key": "Name", "Value": f"{cluster}-encoder (offline trial)"}]
    answer = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="c5.large",
                               TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
    return image, answer["Instances"][0]["InstanceId"]


def start(region="us-east-1", cluster="nommer", bucket="nommer-trial", log_dir=None):
    """Start the three servers; returns ``(environment, stop)``."""
    import boto3

    from nommer.testing.simpledb import start_server

    log_dir = log_dir or tempfile.mkdtemp(prefix="nommer-aws-trial-")
    moto = MotoServer(os.path.join(log_dir, "moto.log")).start()
    stops = [moto.stop]
    try:
        simpledb, simpledb_url = start_server(port=0)
        stops.append(simpledb.stop)
        aws = {**moto.environment(), "AWS_DEFAULT_REGION": region}
        session = boto3.session.Session(aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                                        region_name=region)
        s3 = session.client("s3", endpoint_url=moto.url)
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        image, instance_id = _launch_encoder_instance(session.client("ec2", endpoint_url=moto.url), cluster)
        imds = ImdsServer(instance_id, region).__enter__()
        stops.append(lambda: imds.__exit__(None, None, None))
    except BaseException:
        for stop in reversed(stops):
            stop()
        raise
    environment = {
        **aws,
        "AWS_ENDPOINT_URL_SIMPLEDB": simpledb_url,
        "NOMMER_BACKEND": "aws",
        "NOMMER_CLUSTER": cluster,
        "NOMMER_AWS_REGION": region,
        "NOMMER_IMDS_ENDPOINT": imds.url,
        "NOMMER_EC2_AMI": image,
        "NOMMER_TRIAL_BUCKET": bucket,
    }

    def stop_all():
        for stop in reversed(stops):
            stop()

    return environment, stop_all


def exports(environment):
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in environment.items())


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nommer.testing.aws", description=__doc__.split("\n\n")[0])
    parser.add_argument("--region", default="us-east-1", help="the region to pretend to be in")
    parser.add_argument("--cluster", default="nommer", help="the farm's cluster name (its queues, tags)")
    parser.add_argument("--bucket", default="nommer-trial", help="a media bucket made in moto's S3")
    parser.add_argument("--env-file", help="also write the environment to this file, as shell exports")
    args = parser.parse_args(argv)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        environment, stop = start(args.region, args.cluster, args.bucket)
    except Exception as e:  # moto missing, a port taken...
        print(f"nommer.testing.aws: cannot start: {e}", file=sys.stderr)
        return 1
    try:
        text = exports(environment)
        if args.env_file:
            tmp = args.env_file + ".part"
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, args.env_file)
        print("# AWS mode, offline. In another shell:", flush=True)
        print(text, end="", flush=True)
        print(f"# s3://{args.bucket}/ is a bucket to put sources in and write outputs to.\n"
              "# python -m nommer.feeder; python -m nommer.encoder. Ctrl-C stops these servers.", flush=True)
        stopping.wait()
    finally:
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
