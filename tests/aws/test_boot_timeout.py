"""An encoder instance that never heartbeats within boot_timeout of its
launch is terminated (moto's EC2), its job goes back to the queue, and the
Scaler no longer counts it as capacity: real Scaler and Reaper actors over
a real SQLite store."""

import dataclasses
import time

import pykka
import pytest

from nommer.actors.messages import Workload
from nommer.actors.reaper import Reaper
from nommer.actors.scaler import Scaler
from nommer.core import config as config_mod
from nommer.core.adapters.ec2_fleet import Ec2Fleet
from nommer.core.adapters.sqlite_store import SqliteJobStore
from nommer.core.model.jobs import Job, State
from nommer.core.feeder.scaling import unbooted
from nommer.core.ports.fleet import Member

AMI = "ami-12345678"


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def state(ec2_client, instance_id):
    [reservation] = ec2_client.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservation["Instances"][0]["State"]["Name"]


@pytest.fixture
def store(tmp_path):
    store = SqliteJobStore(tmp_path / "nommer.db")
    yield store
    store.close()


@pytest.fixture
def actors():
    started = []
    yield started
    for ref in started:
        ref.stop()
    pykka.ActorRegistry.stop_all()


def test_a_silent_instance_is_ended_its_job_requeued_and_replaced(
        aws_endpoint, unique, ec2_client, store, actors):
    config = config_mod.load(environ={}, overrides={
        "backend": "aws", "cluster": unique, "ec2_ami": AMI, "boot_timeout": 2,
        "scale_interval": 0.2, "reap_interval": 60, "max_encoders": 3, "job_overflow_threshold": 0})
    fleet = Ec2Fleet(config)
    silent, alive = fleet.launch(2)
    store.heartbeat(alive.id, {"jobs": []})  # this one's encoder started
    job = store.create(Job.new("s3://b/in.mov", [{"destination": "s3://b/out.mp4",
                                                   "preset": "h264"}]))
    job = store.update(job.transition(State.DOWNLOADING, encoder_id=silent.id))

    actors.append(Reaper.start(config, store))
    scaler = Scaler.start(config, fleet, store)
    actors.append(scaler)
    # 3 jobs of 600 predicted seconds in all, 2 per encoder, target_wait
    # 120: 2 encoders wanted, so the silent one is owed.
    scaler.tell(Workload(unfinished=3, backlog_seconds=600.0))

    wait_for(lambda: state(ec2_client, silent.id) in ("shutting-down", "terminated"), 20,
             "the silent instance to be terminated")
    assert state(ec2_client, alive.id) == "running"
    wait_for(lambda: store.get(job.id).state == State.PENDING, 10, "the job to be requeued")
    requeued = store.get(job.id)
    assert requeued.encoder_id is None
    assert "boot_timeout" in requeued.details
    # Its capacity is launched anew rather than waited for.
    wait_for(lambda: any(m.id not in (silent.id, alive.id) for m in fleet.members()), 10,
             "a replacement launch")


def test_an_instance_that_heartbeated_once_is_never_ended_for_booting(
        aws_endpoint, unique, ec2_client, store, actors):
    config = config_mod.load(environ={}, overrides={
        "backend": "aws", "cluster": unique, "ec2_ami": AMI, "boot_timeout": 1,
        "scale_interval": 0.2, "min_encoders": 1, "max_encoders": 1})
    fleet = Ec2Fleet(config)
    [member] = fleet.launch(1)
    store.heartbeat(member.id, {"jobs": []})
    scaler = Scaler.start(config, fleet, store)
    actors.append(scaler)
    time.sleep(1.5)
    store.forget_encoder(member.id)  # its record gone (stopping); the boot check saw it
    time.sleep(1.0)
    assert state(ec2_client, member.id) == "running"


def test_unbooted_picks_only_old_silent_members():
    import datetime

    at = datetime.datetime(2030, 1, 1, 0, 10, tzinfo=datetime.UTC)
    old = Member("i-old", "running", "2030-01-01T00:00:00.000000Z")
    young = Member("i-young", "starting", "2030-01-01T00:09:00.000000Z")
    speaking = Member("i-speaks", "running", "2030-01-01T00:00:00.000000Z")
    stopping = dataclasses.replace(old, id="i-stop", state="stopping")
    unknown = Member("i-unknown", "running", "")
    assert unbooted([old, young, speaking, stopping, unknown], {"i-speaks"}, 300, at) == [old]
