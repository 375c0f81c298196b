"""Fixtures of the AWS tests: clients of moto's server (started once per
session by ``aws_endpoint`` in tests/conftest.py) and fresh names, since that
server's state lasts the whole session."""

import uuid

import boto3
import pytest


@pytest.fixture
def unique():
    """A short name no other test uses."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3_client(aws_endpoint):
    return boto3.client("s3")


@pytest.fixture
def ec2_client(aws_endpoint):
    return boto3.client("ec2")


@pytest.fixture
def bucket(s3_client, unique):
    s3_client.create_bucket(Bucket=unique)
    return unique


@pytest.fixture(scope="session")
def simpledb_env():
    """``{variable: value}`` that points the SimpleDB job store of a child
    process at nommer's SimpleDB test server (moto's SimpleDB has no Select
    and ignores conditional puts), through boto3's own endpoint variable."""
    from nommer.testing.simpledb import start_server

    server, url = start_server(port=0)
    yield {"AWS_ENDPOINT_URL_SIMPLEDB": url}
    server.stop()
