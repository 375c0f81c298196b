"""An Alarm tells its actor each message once, a while after it was set,
from one thread: a real Pykka actor, real time."""

import time

import pykka

from nommer.actors.ticker import Alarm, Tick

from ..e2e.farm import wait_for


class Recorder(pykka.ThreadingActor):
    def __init__(self, seen):
        super().__init__()
        self.seen = seen

    def on_receive(self, message):
        self.seen.append((message, time.monotonic()))


def test_each_message_is_told_once_when_due_and_a_later_set_keeps_the_earlier_time():
    seen = []
    ref = Recorder.start(seen)
    alarm = Alarm(ref, "test").start()
    try:
        set_at = time.monotonic()
        alarm.set(0.4, Tick("slow"))
        alarm.set(0.1, Tick("quick"))  # sooner than the one waited for: wakes sooner
        alarm.set(5.0, Tick("quick"))  # already due sooner: kept at 0.1
        wait_for(lambda: len(seen) == 2, 5, "both alarms")
        time.sleep(0.3)
        assert [m.name for m, _ in seen] == ["quick", "slow"]  # each once, in order
        assert 0.1 <= seen[0][1] - set_at < 0.35
        assert 0.4 <= seen[1][1] - set_at < 1.0
        alarm.set(0.05, Tick("quick"))  # told already: it can be set again
        wait_for(lambda: len(seen) == 3, 5, "the alarm set again")
    finally:
        alarm.stop()
        ref.stop()


def test_a_stopped_alarm_tells_nothing_more():
    seen = []
    ref = Recorder.start(seen)
    alarm = Alarm(ref, "test").start()
    try:
        alarm.set(0.2, Tick("never"))
        alarm.stop()
        time.sleep(0.4)
        assert seen == []
        assert not alarm._thread.is_alive()
    finally:
        ref.stop()
