"""The Notifier delivers a job's events in order; a progress event that is
still waiting when a newer one comes is replaced by it."""

import pykka
import pytest

from nommer.actors import addresses
from nommer.actors.messages import Ack, Notify
from nommer.actors.notifier import Notifier
from nommer.core import config as config_mod
from nommer.testing.receiver import Receiver

from ..e2e.farm import wait_for


@pytest.fixture
def notifier():
    # the receiver is on loopback, which nommer reaches only when allowed
    ref = Notifier.start(config_mod.load(environ={"NOMMER_ALLOWED_NETWORKS": "127.0.0.0/8"}))
    yield ref
    ref.stop()


def event(kind, n):
    return {"event": kind, "job_id": "j", "n": n}


class Dispatcher(pykka.ThreadingActor):
    """Stands at the Dispatcher's address: it keeps the acknowledgements the
    Notifier sends it."""

    address = addresses.DISPATCHER

    def __init__(self):
        super().__init__()
        self.acked = []

    def on_receive(self, message):
        if isinstance(message, Ack):
            self.acked.append(message.receipt)

    def receipts(self):
        return sorted(self.acked)


def test_a_slow_receiver_gets_the_latest_progress_and_every_state_change(notifier):
    receiver = Receiver(hold_first=True)  # holds its first delivery until released
    dispatcher = Dispatcher.start()
    try:
        def send(kind, n):
            notifier.tell(Notify("j", receiver.url, event(kind, n), receipt=f"r{n}"))

        send("job.state_changed", 0)
        wait_for(lambda: receiver.posts, 10, "the first delivery")  # now held
        for n in range(1, 5):
            send("job.progress", n)
        send("job.state_changed", 5)
        send("job.progress", 6)
        send("job.progress", 7)
        receiver.release.set()
        wait_for(lambda: receiver.bodies()[-1]["n"] == 7, 10, "the rest")
        seen = [b["n"] for b in receiver.bodies()]
        # every state change, in order; of the progress events held back,
        # the latest (the one that was in flight when the rest came may go too)
        assert [n for n in seen if n in (0, 5)] == [0, 5]
        assert seen[-1] == 7 and 4 in seen and 6 not in seen
        assert len([n for n in seen if n in (1, 2, 3)]) <= 1
        # every change is acknowledged: the delivered ones and those replaced
        wait_for(lambda: len(dispatcher.proxy().receipts().get()) == 8, 10, "every acknowledgement")
        assert dispatcher.proxy().receipts().get() == [f"r{n}" for n in range(8)]
    finally:
        dispatcher.stop()
        receiver.close()


def test_webhooks_share_a_kept_connection_that_the_notifier_closes_once_idle():
    config = config_mod.load(environ={"NOMMER_ALLOWED_NETWORKS": "127.0.0.0/8"})
    receiver = Receiver(keep_alive=True)
    notifier = Notifier.start(config, idle_after=0.3)
    try:
        for n in range(3):  # one after the other: one connection carries them
            notifier.tell(Notify(f"j{n}", receiver.url, event("job.state_changed", n)))
            wait_for(lambda: len(receiver.posts) == n + 1, 10, f"delivery {n}")
        assert receiver.connections == 1
        wait_for(lambda: receiver.ended == 1, 5, "the idle connection closed by the Notifier's timer")
        assert notifier.proxy().connections.get().idle_count() == 0

        notifier.tell(Notify("j3", receiver.url, event("job.state_changed", 3)))
        wait_for(lambda: len(receiver.posts) == 4, 10, "the delivery after")
        assert receiver.connections == 2
    finally:
        notifier.stop()
        receiver.close()


def test_the_notifier_closes_its_kept_connections_when_it_stops():
    config = config_mod.load(environ={"NOMMER_ALLOWED_NETWORKS": "127.0.0.0/8"})
    receiver = Receiver(keep_alive=True)
    notifier = Notifier.start(config)  # idle connections kept for seconds
    try:
        notifier.tell(Notify("j", receiver.url, event("job.state_changed", 0)))
        wait_for(lambda: receiver.posts, 10, "the delivery")
        assert receiver.ended == 0
        notifier.stop()
        wait_for(lambda: receiver.ended == 1, 1, "the kept connection closed at stop")
    finally:
        if notifier.is_alive():
            notifier.stop()
        receiver.close()
