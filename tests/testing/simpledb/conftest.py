"""A fresh SimpleDB-compatible server per test and boto3 ``sdb`` clients for it."""

import boto3
import botocore.config
import pytest

from nommer.testing.simpledb import start_server


@pytest.fixture(scope="session")
def boto_session():
    # One session for every client: its loader caches the service model, so
    # making a client costs milliseconds instead of a model load each time.
    return boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                 region_name="us-east-1")


@pytest.fixture
def make_client(boto_session):
    """``make_client(url, **config)``: an ``sdb`` client for the server at
    ``url``, without retries unless ``retries=`` says otherwise."""

    def make(url, retries=None, **config):
        config = botocore.config.Config(retries=retries or {"total_max_attempts": 1}, **config)
        return boto_session.client("sdb", endpoint_url=url, config=config)

    return make


@pytest.fixture
def server():
    server, _ = start_server()
    yield server
    server.stop()


@pytest.fixture
def sdb(server, make_client):
    """A client of a fresh server."""
    return make_client(server.url)


@pytest.fixture
def raw_sdb(server, make_client):
    """A client that sends what it is given, unchecked, to reach the server's
    own validation."""
    return make_client(server.url, parameter_validation=False)


@pytest.fixture
def domain(sdb):
    sdb.create_domain(DomainName="things")
    return "things"
