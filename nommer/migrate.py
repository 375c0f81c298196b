"""``python -m nommer.migrate``: copy the jobs of a SimpleDB job store into
the DynamoDB one (docs/stores.md). Safe to run again: nothing is copied
twice and no job in DynamoDB is overwritten.

The settings are the farm's (``--config``, ``NOMMER_*``): the source is the
domain ``<cluster>-jobs`` unless ``--from-domain`` or ``--from-export`` says
otherwise, the target is ``dynamodb_table`` (created when missing).
"""

import argparse
import sys

from nommer.core import config as config_mod
from nommer.core.errors import NommerError


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m nommer.migrate",
        description="Copy nommer's jobs from SimpleDB into DynamoDB.")
    parser.add_argument("--config", help="TOML settings file (the farm's)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--from-domain", metavar="DOMAIN",
                        help="SimpleDB domain to read (default <cluster>-jobs)")
    source.add_argument("--from-export", metavar="FILE", action="append",
                        help="JSON-lines file of the domain's items, a local path or "
                             "s3://bucket/key, or s3://bucket/prefix/ for every object "
                             "under it; may be given several times")
    parser.add_argument("--to-table", metavar="TABLE",
                        help="DynamoDB table to write (default: the dynamodb_table setting, "
                             "or <cluster>-jobs)")
    return parser.parse_args(argv)


def _export_files(sources, region):
    """``(name, bytes)`` of every export file named."""
    import pathlib

    from nommer.core.feeder.migration import MigrationError

    for source in sources:
        if not source.startswith("s3://"):
            try:
                yield source, pathlib.Path(source).read_bytes()
            except OSError as e:
                raise MigrationError(f"--from-export: cannot read {source!r}: "
                                     f"{e.strerror or e}") from None
            continue
        from nommer.core.adapters import aws

        bucket, _, key = source[len("s3://"):].partition("/")
        client = aws.client("s3", region)
        try:
            if key and not key.endswith("/"):
                keys = [key]
            else:
                keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
                            Bucket=bucket, Prefix=key) for o in page.get("Contents", [])
                        if not o["Key"].endswith("/")]
                if not keys:
                    raise MigrationError(f"--from-export: no object under {source!r}")
            for name in keys:
                body = client.get_object(Bucket=bucket, Key=name)["Body"].read()
                yield f"s3://{bucket}/{name}", body
        except MigrationError:
            raise
        except Exception as e:  # botocore's errors, said plainly
            raise MigrationError(f"--from-export: cannot read {source!r}: "
                                 f"{aws.describe(e)}") from None


def run(config, from_domain=None, from_export=None, to_table=None, out=None):
    out = out or sys.stdout
    from nommer.core.feeder import migration
    from nommer.core.adapters import aws
    from nommer.core.adapters.dynamodb_store import DynamoDbJobStore, check_table_name, table_name

    region = config.aws_region or None
    table = check_table_name(to_table, "--to-table") if to_table else table_name(config)
    if from_export:
        # Every line is read before anything is written: a bad line stops
        # the copy before it starts.
        items = [item for name, data in _export_files(from_export, region)
                 for item in migration.export_items(name, data)]
        source = ", ".join(from_export)
    else:
        domain = from_domain or f"{config.cluster}-jobs"
        items = migration.domain_items(aws.client("sdb", region), domain)
        source = f"SimpleDB domain {domain}"
    target = DynamoDbJobStore(table, region=region, retention_days=config.retention_days,
                              setting="--to-table" if to_table else "dynamodb_table")
    report = migration.copy(items, target)
    print(f"from {source} to DynamoDB table {table}: {report.summary()}", file=out)
    for name, reason in report.unreadable:
        print(f"  item {name}: {reason}", file=out)
    return report


def main(argv=None):
    args = parse_args(argv)
    try:
        config = config_mod.load(args.config)
        report = run(config, args.from_domain, args.from_export, args.to_table)
    except NommerError as e:
        print(f"nommer migrate: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        import botocore.exceptions

        if not isinstance(e, (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)):
            raise
        from nommer.core.adapters import aws

        print(f"nommer migrate: AWS refused: {aws.describe(e)}", file=sys.stderr)
        return 2
    return 1 if report.unreadable else 0


if __name__ == "__main__":
    sys.exit(main())
