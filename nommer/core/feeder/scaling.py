"""How many encoders to run: the scaling policies (media-nommer's rule and
the wait target), plain functions of a view of the farm, and the check for
machines that never booted."""

import dataclasses
import datetime
import functools
import math

from nommer.core.model.jobs import parse_time


def _utcnow():
    return datetime.datetime.now(datetime.UTC)


@functools.lru_cache(maxsize=8192)
def launch_time(text):
    """A member's launch time (its ``started_at`` text) as a datetime, or
    None. Cached: the same few texts are read on every look, and parsing
    1,000 of them each time would be most of a look's cost."""
    return parse_time(text)


def encoders_to_start(unfinished, running, jobs_per_encoder, overflow, maximum, minimum=0):
    """Encoders to launch now.

    With no encoder and any unfinished job, start one; otherwise when the
    unfinished jobs reach capacity plus the overflow threshold, start enough
    for the overage (at least one). Never beyond ``maximum``; keep at least
    ``minimum`` running.
    """
    capacity = running * jobs_per_encoder
    wanted = max(0, minimum - running)
    if running == 0 and unfinished > 0:
        wanted = max(wanted, 1)
    elif running > 0 and unfinished >= capacity + overflow and unfinished > capacity:
        wanted = max(wanted, math.ceil((unfinished - capacity) / jobs_per_encoder))
    return max(0, min(wanted, maximum - running))


def unbooted(members, heartbeating, boot_timeout, now=None):
    """The members launched more than ``boot_timeout`` seconds ago whose
    encoder never heartbeated (its id is not in ``heartbeating``): machines
    that bill but will never work, to be ended and not counted as capacity.
    A member whose launch time is unknown is given the benefit of the doubt."""
    found = []
    for member in members:
        if member.state not in ("starting", "running") or member.id in heartbeating:
            continue
        launched = launch_time(member.started_at)
        age = None if launched is None else ((now or _utcnow()) - launched).total_seconds()
        if age is not None and age > boot_timeout:
            found.append(member)
    return found


# The policies: one decision per look, taken from a plain view of the farm,
# the same function in the feeder's Scaler and in the simulator (nommer.sim).

POLICIES = ("wait-target", "media-nommer")
# EC2 bills per second with a minimum of 60: an instance stopped earlier
# costs the same, so one that may still catch work is kept until then.
BILLING_MINIMUM = 60.0
# Jobs expected within the warm horizon below which no idle encoder is kept.
WARM_THRESHOLD = 0.5


class ArrivalRate:
    """Jobs submitted per second, an exponentially weighted mean over about
    ``window`` seconds, from a running count of submissions (so a missed
    look loses nothing)."""

    def __init__(self, window=900.0):
        self.window = float(window)
        self.rate = 0.0
        self._last = None  # (time, count)

    def observe(self, now, submitted):
        if self._last is None:
            self._last = (now, submitted)
            return self.rate
        then, count = self._last
        elapsed = now - then
        if elapsed <= 0:
            return self.rate
        weight = 1.0 - math.exp(-elapsed / self.window)
        self.rate += weight * (max(0, submitted - count) / elapsed - self.rate)
        self._last = (now, submitted)
        return self.rate


@dataclasses.dataclass(frozen=True)
class Encoder:
    """One encoder as the policy sees it. Times are seconds on one clock."""

    id: str
    launched_at: float
    booted: bool = True  # heartbeated at least once; False: capacity arriving
    jobs: int = 0  # jobs (or pieces) it holds now
    idle_since: float | None = None  # when it was last seen to become idle


@dataclasses.dataclass(frozen=True)
class View:
    now: float
    encoders: tuple  # of Encoder, each starting or running
    unfinished: int  # jobs not final
    backlog_seconds: float = 0.0  # predicted encoder-seconds still needed by them
    arrival_rate: float = 0.0  # jobs submitted per second lately (ArrivalRate)


@dataclasses.dataclass(frozen=True)
class Rules:
    """The settings a policy reads (see :meth:`from_config`)."""

    policy: str = "wait-target"
    slots: int = 2  # jobs_per_encoder
    minimum: int = 0
    maximum: int = 3
    overflow: int = 2  # job_overflow_threshold (media-nommer)
    target_wait: float = 120.0
    autoscale: bool = True
    retire_idle_after: float = 10.0  # least seconds seen idle before it may be retired
    warm_horizon: float = 0.0  # keep_warm
    billing_minimum: float = BILLING_MINIMUM

    @classmethod
    def from_config(cls, config):
        return cls(policy=config.scaling_policy, slots=config.jobs_per_encoder,
                   minimum=config.min_encoders, maximum=config.encoders_max,
                   overflow=config.job_overflow_threshold, target_wait=config.target_wait,
                   autoscale=config.autoscale,
                   retire_idle_after=2 * config.heartbeat_interval,
                   warm_horizon=config.keep_warm)


def idle_limit(config):
    """Seconds an idle encoder waits before it stops itself. Under
    media-nommer's rule that is the fleet's only scale-in:
    ``max_inactivity``. Under the wait target the Scaler retires idle
    encoders itself and may keep some warm for ``keep_warm`` seconds of
    expected work, so the encoder's own stop waits that much longer: it is
    the safety net for a feeder that is gone. 0: never (idle_terminate off)."""
    if not config.idle_terminate:
        return 0.0
    if config.scaling_policy == "media-nommer":
        return config.max_inactivity
    return config.max_inactivity + config.keep_warm


@dataclasses.dataclass(frozen=True)
class Decision:
    launch: int = 0
    retire: tuple = ()  # ids of idle encoders to stop
    desired: int = 0
    reason: str = ""


def decide(view, rules):
    """What to do now: how many encoders to launch and which idle ones to
    retire, with the reason in words (logged and shown)."""
    if rules.policy == "media-nommer":
        return _media_nommer(view, rules)
    if rules.policy == "wait-target":
        return _wait_target(view, rules)
    raise ValueError(f"unknown scaling policy {rules.policy!r}")


def _media_nommer(view, rules):
    # media-nommer never retires: its encoders stop themselves when idle.
    unfinished = view.unfinished if rules.autoscale else 0
    count = encoders_to_start(unfinished, len(view.encoders), rules.slots, rules.overflow,
                              rules.maximum, rules.minimum)
    return Decision(launch=count, desired=len(view.encoders) + count,
                    reason=f"{view.unfinished} unfinished jobs, {len(view.encoders)} encoders, "
                           f"{rules.slots} per encoder, overflow {rules.overflow}")


def wanted_encoders(backlog_seconds, unfinished, rules):
    """ceil(backlog / (target_wait × slots)): enough encoders for the
    predicted work to be started within ``target_wait``; never more than the
    jobs can fill (one job runs in one slot), at least one while any job is
    unfinished, within the bounds."""
    if not rules.autoscale or unfinished <= 0:
        wanted = 0
    else:
        by_time = math.ceil(max(0.0, backlog_seconds) / (rules.target_wait * rules.slots))
        by_jobs = math.ceil(unfinished / rules.slots)
        wanted = max(1, min(by_time, by_jobs))
    return max(rules.minimum, min(wanted, rules.maximum))


def kept_warm(arrival_rate, rules):
    """Idle encoders worth keeping for the jobs the recent submission rate
    predicts within ``warm_horizon`` (about what a fresh launch takes to
    boot): stopping one that a job will want sooner costs its relaunch (the
    boot is billed) and makes that job wait for the boot."""
    expected = arrival_rate * rules.warm_horizon
    if expected < WARM_THRESHOLD:
        return 0
    return min(rules.maximum, math.ceil(expected / rules.slots))


def _wait_target(view, rules):
    desired = wanted_encoders(view.backlog_seconds, view.unfinished, rules)
    warm = kept_warm(view.arrival_rate, rules) if rules.autoscale else 0
    have = len(view.encoders)  # booting ones count: capacity arriving
    booting = sum(1 for e in view.encoders if not e.booted)
    words = (f"{view.backlog_seconds:.0f} s of predicted work in {view.unfinished} jobs, "
             f"target wait {rules.target_wait:g} s, {rules.slots} slots each: {desired} wanted, "
             f"{have} there ({booting} booting), {warm} kept warm for "
             f"{view.arrival_rate * 3600:.0f} jobs an hour")
    if desired > have:
        return Decision(launch=desired - have, desired=desired, reason=words)
    retire = []
    spare = have - max(desired, warm)
    if spare > 0:
        # Idle long enough to be sure, and past the billing minimum (before
        # it, stopping saves nothing and the encoder may still catch work).
        # Longest idle first.
        idle = sorted((e for e in view.encoders
                       if e.booted and e.jobs == 0 and e.idle_since is not None
                       and view.now - e.idle_since >= rules.retire_idle_after
                       and view.now - e.launched_at >= rules.billing_minimum),
                      key=lambda e: (e.idle_since, e.id))
        retire = [e.id for e in idle[:spare]]
    if retire:
        words += f"; retiring {len(retire)} idle"
    return Decision(retire=tuple(retire), desired=desired, reason=words)
