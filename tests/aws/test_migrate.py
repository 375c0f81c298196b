"""``python -m nommer.migrate`` copies the jobs of a SimpleDB store (nommer's
SimpleDB server) into DynamoDB (moto's server): from the live domain or
from export files, once, with counts and clear errors."""

import gzip
import json
import os
import subprocess
import sys

import boto3
import pytest

from nommer import migrate
from nommer.core.adapters.dynamodb_store import DynamoDbJobStore
from nommer.core.adapters.simpledb_store import SimpleDbJobStore
from nommer.core.errors import NotFound
from nommer.core.model.jobs import Job, State

LONG_AGO = "2020-01-01T00:00:00.000000Z"


@pytest.fixture
def env(aws_endpoint, simpledb_env, unique, monkeypatch):
    """The farm's settings and endpoints, as the command reads them."""
    values = {**simpledb_env, "NOMMER_CLUSTER": unique, "NOMMER_BACKEND": "aws"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def source(env, unique):
    """A SimpleDB store with a pending job, a running one, one finished
    lately and one finished long ago."""
    store = SimpleDbJobStore(unique, client=boto3.client(
        "sdb", endpoint_url=env["AWS_ENDPOINT_URL_SIMPLEDB"]))

    def new(n):
        outputs = [{"destination": f"s3://b/o/{n}.mp4", "preset": "mp4-h264-480p"}]
        return store.create(Job.new(f"s3://b/in/{n}.mov", outputs))

    pending = new(0)
    running = store.update(new(1).transition(State.DOWNLOADING, encoder_id="i-1"))
    recent = store.update(new(2).transition(State.CANCELED))
    old = store.update(new(3).transition(State.ABANDONED, finished_at=LONG_AGO))
    store.heartbeat("i-1", {"slots": 2})
    return store, {"kept": [pending, running, recent], "old": old}


def run(*argv):
    return migrate.main(list(argv))


def test_the_live_domain_is_copied_once(source, unique, capsys):
    store, jobs = source

    assert run() == 0
    said = capsys.readouterr().out
    assert f"SimpleDB domain {unique}-jobs" in said and f"DynamoDB table {unique}-jobs" in said
    assert "copied 3 jobs; 0 were there already; 1 had expired" in said

    target = DynamoDbJobStore(f"{unique}-jobs", create_table=False)
    for job in jobs["kept"]:
        assert target.get(job.id) == job  # versions included
    with pytest.raises(NotFound):
        target.get(jobs["old"].id)
    assert target.encoders() == []  # heartbeats are not jobs
    assert target.counts() == {"PENDING": 1, "DOWNLOADING": 1, "CANCELED": 1}

    # Again, after the job went on in DynamoDB: nothing copied, nothing overwritten.
    moved = target.update(target.get(jobs["kept"][0].id).transition(State.CANCELED))
    assert run() == 0
    assert "copied 0 jobs; 3 were there already; 1 had expired" in capsys.readouterr().out
    assert target.get(moved.id) == moved
    assert target.counts() == {"DOWNLOADING": 1, "CANCELED": 2}


def export_lines(store, domain):
    items = store.client.select(SelectExpression=f"select * from `{domain}`",
                                ConsistentRead=True)["Items"]
    return [json.dumps({"name": i["Name"],
                        "attributes": [{"name": a["Name"], "value": a["Value"]}
                                       for a in i["Attributes"]]}) for i in items]


def test_export_files_local_gzip_and_on_s3(source, unique, tmp_path, s3_client, bucket, capsys):
    store, jobs = source
    lines = export_lines(store, f"{unique}-jobs")
    first = tmp_path / "part-1.json"
    first.write_text("\n".join(lines[:2]) + "\n\n")
    second = tmp_path / "part-2.json.gz"
    second.write_bytes(gzip.compress(("\n".join(lines[2:]) + "\n").encode()))

    assert run("--from-export", str(first), "--from-export", str(second),
               "--to-table", f"{unique}-copy") == 0
    assert "copied 3 jobs; 0 were there already; 1 had expired" in capsys.readouterr().out
    target = DynamoDbJobStore(f"{unique}-copy", create_table=False)
    assert {j.id for j in target.list()[0]} == {j.id for j in jobs["kept"]}

    for n, path in enumerate((first, second)):
        s3_client.upload_file(str(path), bucket, f"export/AWSSimpleDB/x/{n}.json")
    assert run("--from-export", f"s3://{bucket}/export/", "--to-table", f"{unique}-copy") == 0
    assert "copied 0 jobs; 3 were there already" in capsys.readouterr().out


def test_an_item_that_is_no_job_is_reported_and_the_rest_copied(source, unique, tmp_path,
                                                                 capsys):
    store, jobs = source
    lines = export_lines(store, f"{unique}-jobs")
    stray = json.dumps({"name": "stray", "attributes": [{"name": "colour", "value": "blue"}]})
    path = tmp_path / "export.json"
    path.write_text("\n".join([stray] + lines) + "\n")

    assert run("--from-export", str(path)) == 1
    said = capsys.readouterr().out
    assert "copied 3 jobs" in said and "1 could not be read" in said
    assert "item stray: no attribute 'parts'" in said


@pytest.mark.parametrize("line, message", [
    ("{not json", "line 2: not JSON"),
    ("[1, 2]", "line 2: not an object"),
    ('{"name": "x"}', 'line 2: an item needs "name"'),
])
def test_a_bad_export_line_stops_before_anything_is_copied(source, unique, tmp_path, capsys,
                                                           line, message):
    store, _ = source
    path = tmp_path / "export.json"
    path.write_text(export_lines(store, f"{unique}-jobs")[0] + "\n" + line + "\n")

    assert run("--from-export", str(path)) == 2
    assert f"{path} {message}" in capsys.readouterr().err
    assert f"{unique}-jobs" not in boto3.client("dynamodb").list_tables()["TableNames"]


@pytest.mark.parametrize("argv, message", [
    (["--from-domain", "no-such-domain"], "--from-domain: SimpleDB has no domain 'no-such-domain'"),
    (["--from-export", "/no/such/file.json"], "--from-export: cannot read '/no/such/file.json'"),
    (["--from-export", "s3://{unique}-none/x/"], "--from-export: cannot read"),
    (["--to-table", "bad name!"], None),
])
def test_bad_sources_are_refused_and_nothing_is_created(env, unique, capsys, argv, message):
    argv = [a.replace("{unique}", unique) for a in argv]
    code = run(*argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert (message or "--to-table") in err
    assert not [t for t in boto3.client("dynamodb").list_tables()["TableNames"] if unique in t]


def test_the_command_runs_as_a_module(source, env, unique):
    out = subprocess.run([sys.executable, "-m", "nommer.migrate"], capture_output=True,
                         text=True, env={**os.environ, **env}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "copied 3 jobs" in out.stdout
