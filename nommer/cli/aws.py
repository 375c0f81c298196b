"""``nommer aws deploy`` and ``nommer aws publish``: the farm's AWS resources
(the CloudFormation stack) and the wheelhouse its encoders install from."""

import sys

import nommer
from nommer.core.errors import ConfigError, NommerError

DONE, FAILED, REFUSED = 0, 1, 2


def add_commands(commands):
    aws = commands.add_parser("aws", help="deploy the farm's AWS stack, publish its wheelhouse",
                              description="The farm on AWS (docs/aws.md).")
    actions = aws.add_subparsers(dest="aws_command", required=True, metavar="ACTION")

    deploy = actions.add_parser(
        "deploy", help="create or update the CloudFormation stack and print its settings",
        description="Create or update the stack of deploy/cloudformation/nommer.yaml (job "
                    "table, queues, bucket, roles, launch template) and print the nommer "
                    "settings its outputs give, or write them into a nommer.toml.")
    deploy.add_argument("--cluster", default="nommer", help="the cluster setting (default nommer)")
    deploy.add_argument("--stack-name", help="the stack's name (default: the cluster's)")
    deploy.add_argument("--region", help="AWS region (default: boto3's)")
    deploy.add_argument("--media-bucket", help="use this existing bucket instead of creating one")
    deploy.add_argument("--create-feeder", action="store_true",
                        help="also start an instance running the feeder")
    deploy.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="any other parameter of the template (repeatable)")
    deploy.add_argument("--write", metavar="FILE",
                        help="put the settings at the top of this nommer.toml (other lines stay)")

    publish = actions.add_parser(
        "publish", help="upload nommer and its dependencies as wheels for the encoders",
        description="Build the wheelhouse encoder instances install from (nommer's own wheel "
                    "and every dependency for their platform) and upload it, with the "
                    "bootstrap script, under the wheelhouse setting's S3 folder.")
    publish.add_argument("--config", help="nommer.toml to read wheelhouse and aws_region from")
    publish.add_argument("--wheelhouse", help="s3://bucket/prefix/ (default: the setting's)")
    publish.add_argument("--region", help="AWS region (default: aws_region, else boto3's)")
    publish.add_argument("--arch", action="append", choices=("x86_64", "aarch64"),
                         help="machine type of the encoders (repeatable; default both)")
    publish.add_argument("--python", action="append", metavar="X.Y",
                         help="Python version of the encoders (repeatable; default 3.11 and 3.12, "
                              "or this Python's with --from-installed)")
    publish.add_argument("--from-installed", action="store_true",
                         help="pack this Python's installed distributions instead of downloading "
                              "(only for encoders of this machine's platform and Python)")
    return aws


def _parameters(args):
    parameters = {"Cluster": args.cluster, "NommerVersion": nommer.__version__}
    if args.media_bucket:
        from nommer.core.s3uri import bucket_problem

        problem = bucket_problem(args.media_bucket)
        if problem:
            raise ConfigError(f"--media-bucket: bucket name {args.media_bucket!r} {problem}")
        parameters["MediaBucket"] = args.media_bucket
    if args.create_feeder:
        parameters["CreateFeeder"] = "true"
    for item in args.parameter:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--parameter: {item!r} is not KEY=VALUE")
        parameters[key] = value
    return parameters


def cmd_deploy(args, out, err):
    from nommer.core.deploy import stack

    parameters = _parameters(args)
    deployer = stack.Deployer(args.stack_name or parameters["Cluster"], region=args.region,
                              say=lambda text: print(f"nommer aws: {text}", file=err))
    settings = deployer.deploy(parameters)
    if args.write:
        stack.write_settings(args.write, deployer.name, settings)
        print(f"nommer aws: wrote {len(settings)} settings to {args.write}", file=err)
    else:
        out.write(stack.settings_block(deployer.name, settings))
    if settings.get("wheelhouse"):
        where = f" --config {args.write}" if args.write else f" --wheelhouse {settings['wheelhouse']}"
        print(f"nommer aws: next, put nommer where the encoders install it from: "
              f"nommer aws publish{where}", file=err)
    return DONE


def cmd_publish(args, out, err):
    from nommer.core import config as config_mod
    from nommer.core.deploy import wheelhouse

    config = config_mod.load(path=args.config)
    target = args.wheelhouse or config.wheelhouse
    # --from-installed packs this machine's wheels: its platform and Python by default.
    here_arch = (wheelhouse.local_arch(),)
    here_python = (f"{sys.version_info.major}.{sys.version_info.minor}",)
    written = wheelhouse.publish(
        target, region=args.region or config.aws_region or None,
        arches=tuple(args.arch or (here_arch if args.from_installed else wheelhouse.ARCHES)),
        pythons=tuple(args.python or (here_python if args.from_installed else wheelhouse.PYTHONS)),
        from_installed=args.from_installed, say=lambda text: print(f"nommer aws: {text}", file=err))
    for uri in written:
        print(uri, file=out)
    return DONE


def run(args, out=None, err=None):
    out, err = out or sys.stdout, err or sys.stderr
    command = {"deploy": cmd_deploy, "publish": cmd_publish}[args.aws_command]
    try:
        return command(args, out, err)
    except ConfigError as e:
        print(f"nommer aws {args.aws_command}: {e}", file=err)
        return REFUSED
    except NommerError as e:
        print(f"nommer aws {args.aws_command}: {e}", file=err)
        return FAILED
