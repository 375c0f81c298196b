"""The Fleet contract: every adapter must pass these.

Adapter-specific setup lives only in the ``backend`` fixture; add an adapter
by adding a param there. The local fleet starts real encoder processes (over
a data folder of the test's own), the EC2 fleet real instances in moto's EC2.
"""

import datetime
import time
import uuid

import pytest

from nommer.core import config as config_mod
from nommer.core.ports.fleet import Member


class Backend:
    def __init__(self, make_fleet, stops_encoders, break_launches=None):
        self.make_fleet = make_fleet  # () -> a new Fleet over the same farm
        # Whether stop_all stops the encoders (local) or leaves them to end
        # themselves when idle (EC2: a feeder restart must not cut jobs short).
        self.stops_encoders = stops_encoders
        # fleet -> fix(): its launches fail until fix() is called (None: they cannot)
        self.break_launches = break_launches
        self.fleets = []

    def fleet(self):
        fleet = self.make_fleet()
        self.fleets.append(fleet)
        return fleet


@pytest.fixture(params=["local", "ec2"])
def backend(request, tmp_path):
    if request.param == "local":
        from nommer.core.adapters.local_fleet import LocalFleet

        config = config_mod.load(environ={}, overrides={"data_dir": str(tmp_path / "data")})
        backend = Backend(lambda: LocalFleet(config), stops_encoders=True)
        yield backend
        for fleet in backend.fleets:
            fleet.stop_all(timeout=5)
        return
    from nommer.core.adapters.ec2_fleet import Ec2Fleet

    ami = request.getfixturevalue("ami")
    config = config_mod.load(environ={}, overrides={
        "backend": "aws", "cluster": f"t{uuid.uuid4().hex[:12]}", "ec2_ami": ami})

    def break_launches(fleet):
        """Fault injection: EC2 refuses every launch (as it does a caller
        without ec2:RunInstances) until the returned ``fix()``."""
        import botocore.exceptions

        broken = [True]

        def hook(**_):
            if broken[0]:
                raise botocore.exceptions.ClientError(
                    {"Error": {"Code": "UnauthorizedOperation",
                               "Message": "You are not authorized to perform this operation."},
                     "ResponseMetadata": {"HTTPStatusCode": 403}}, "RunInstances")

        fleet.client.meta.events.register("before-call.ec2.RunInstances", hook)
        return lambda: broken.__setitem__(0, False)

    yield Backend(lambda: Ec2Fleet(config), stops_encoders=False, break_launches=break_launches)


def ids(members):
    return sorted(m.id for m in members)


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_launch_returns_one_new_member_per_encoder_and_members_lists_them(backend):
    fleet = backend.fleet()
    assert fleet.members() == []

    launched = fleet.launch(2)

    assert len(launched) == 2 and len(set(ids(launched))) == 2
    for member in launched:
        assert isinstance(member, Member)
        assert isinstance(member.id, str) and member.id
        assert member.state in ("starting", "running")
        assert member.market in ("", "spot", "on-demand")
        datetime.datetime.strptime(member.started_at, "%Y-%m-%dT%H:%M:%S.%fZ")
    assert ids(fleet.members()) == ids(launched)
    more = fleet.launch(1)
    assert not set(ids(more)) & set(ids(launched))
    assert ids(fleet.members()) == ids(launched + more)


def test_launching_none_starts_nothing(backend):
    fleet = backend.fleet()
    assert fleet.launch(0) == []
    assert fleet.launch(-1) == []
    assert fleet.members() == []


def test_retire_stops_one_member_and_says_it_did(backend):
    fleet = backend.fleet()
    retired, kept = fleet.launch(2)

    assert fleet.retire(retired.id) is True

    # At once no longer counted as working (the Scaler counts these states).
    assert all(m.state not in ("starting", "running") for m in fleet.members()
               if m.id == retired.id)
    assert wait_for(lambda: retired.id not in ids(fleet.members())), fleet.members()
    assert ids(fleet.members()) == [kept.id]


def test_retire_of_what_is_not_a_member_does_nothing_and_says_so(backend):
    fleet = backend.fleet()
    [member] = fleet.launch(1)

    assert fleet.retire("i-0123456789abcdef0") is False
    assert fleet.retire("local-1-1") is False
    assert fleet.retire("") is False
    assert ids(fleet.members()) == [member.id]


def test_retiring_twice_stops_once(backend):
    fleet = backend.fleet()
    [member] = fleet.launch(1)
    assert fleet.retire(member.id) is True

    assert fleet.retire(member.id) is False  # at once: it is stopping already
    assert wait_for(lambda: member.id not in ids(fleet.members()))
    assert fleet.retire(member.id) is False  # and once it is gone


def test_stop_all_stops_every_member_or_leaves_them_by_design(backend):
    fleet = backend.fleet()
    launched = fleet.launch(2)
    started = time.monotonic()

    fleet.stop_all(timeout=5)

    assert time.monotonic() - started < 8
    if backend.stops_encoders:
        assert fleet.members() == []
    else:
        assert ids(backend.fleet().members()) == ids(launched)


def test_problems_are_empty_while_launches_work(backend):
    fleet = backend.fleet()
    assert fleet.problems() == {}
    fleet.launch(1)
    assert fleet.problems() == {}


def test_a_failed_launch_is_a_problem_until_retry_launches(backend):
    fleet = backend.fleet()
    if backend.break_launches is None:
        pytest.skip("launches of this fleet cannot be made to fail")
    backend.break_launches(fleet)

    assert fleet.launch(1) == []

    problems = fleet.problems()
    assert set(problems) == {"launch_error"}
    problem = problems["launch_error"]
    assert {"at", "code", "message"} <= set(problem)
    assert problem["code"] and problem["message"]
    datetime.datetime.strptime(problem["at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert fleet.members() == []

    fleet.retry_launches()

    assert fleet.problems() == {}


def test_retry_launches_lets_the_next_launch_go_at_once(backend):
    fleet = backend.fleet()
    if backend.break_launches is not None:
        fix = backend.break_launches(fleet)
        assert fleet.launch(1) == []
        fix()  # the operator fixed the cause; the launch parameters are the same
        assert fleet.launch(1) == []  # it waits out the failed launch...
    fleet.retry_launches()  # ...unless told the cause is fixed

    launched = fleet.launch(1)

    assert len(launched) == 1
    assert ids(fleet.members()) == ids(launched)
    assert fleet.problems() == {}


def test_a_new_fleet_object_finds_the_members_a_previous_one_started(backend):
    first = backend.fleet()
    launched = first.launch(1)

    # The feeder started again: its fleet must find the encoders, not start
    # more, even one launched a moment before (not yet through its start-up).
    assert ids(backend.fleet().members()) == ids(launched)
