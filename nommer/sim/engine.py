"""The simulated farm: a clock in whole seconds, a FIFO queue, encoders
that boot, bill per second with a minimum, may be interrupted (spot), stop
themselves when idle for ``max_inactivity``, and a Scaler that every
``scale_interval`` asks :func:`nommer.core.feeder.scaling.decide` what to do.

Each second, in order: submissions join the queue; spot interruptions
happen (the jobs held go back to the front of the queue and start over);
finished jobs leave; encoders idle for ``max_inactivity`` stop themselves;
booted encoders with a free slot take jobs from the queue; on a Scaler
tick, the policy decides. A job's wait is from its submission to the
second an encoder takes it (its last take, after an interruption).
"""

import collections
import dataclasses
import math
import random

from nommer.core.feeder.costs import CostModel
from nommer.core.feeder.scaling import ArrivalRate, Encoder, View, decide


@dataclasses.dataclass(frozen=True)
class Params:
    boot_delay: float = 90.0  # launch to first job taken
    billing_minimum: float = 60.0
    price: float = 0.085  # per instance-hour, on-demand (c5.large, us-east-1)
    spot: bool = False
    spot_price: float = 0.035
    interruptions_per_hour: float = 0.0  # per spot instance-hour
    scale_interval: float = 10.0
    max_inactivity: float = 60.0  # 0 or less: encoders never stop themselves
    noise: float = 0.2  # spread of real encode time around the prediction (lognormal sigma)
    default_job_seconds: float = 60.0  # predicted before the source is probed
    probed_at_submit: bool = False  # True: durations known from submission
    seed: int = 0
    drain_limit: float = 6 * 3600.0  # seconds after the last job that the run may go on


@dataclasses.dataclass
class _Job:
    index: int
    at: float
    duration: float
    preset: str
    predicted: float
    actual: float
    started: float | None = None
    ends: float | None = None
    tries: int = 0


@dataclasses.dataclass
class _Machine:
    id: str
    launched: float
    ready: float
    interrupt_at: float
    running: list = dataclasses.field(default_factory=list)
    idle_since: float | None = None
    stopped: float | None = None


@dataclasses.dataclass
class Result:
    policy: str
    jobs: int
    instance_seconds: float  # billed, each instance at least billing_minimum
    used_seconds: float  # launch to stop, unrounded
    cost: float
    waits: list
    launches: int
    interruptions: int
    end: float
    unfinished: int = 0
    work_seconds: float = 0.0  # slot-seconds of encoding the jobs took (the floor, over slots)
    never_stopped_mid_job: bool = True

    def percentile(self, p):
        if not self.waits:
            return 0.0
        ordered = sorted(self.waits)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100.0 * len(ordered)) - 1))]

    def summary(self):
        return {"policy": self.policy, "jobs": self.jobs,
                "instance_seconds": round(self.instance_seconds), "cost": round(self.cost, 4),
                "wait_p50": self.percentile(50), "wait_p95": self.percentile(95),
                "wait_max": max(self.waits, default=0.0), "launches": self.launches,
                "interruptions": self.interruptions, "unfinished": self.unfinished,
                "work_seconds": round(self.work_seconds)}


def simulate(trace, rules, params=Params(), costs=None):
    """Run ``trace`` (Submissions by time) under the policy ``rules``."""
    rng = random.Random(params.seed)
    costs = costs or CostModel(params.default_job_seconds)
    jobs = []
    for i, s in enumerate(trace):
        predicted = s.duration * costs.job_factor([{"preset": s.preset}])
        spread = rng.lognormvariate(-params.noise ** 2 / 2, params.noise) if params.noise else 1.0
        jobs.append(_Job(i, float(s.at), s.duration, s.preset, predicted, max(1.0, predicted * spread)))
    jobs.sort(key=lambda j: (j.at, j.index))
    queue = collections.deque()
    queued_seconds = 0.0  # predicted seconds of the queue, kept as it changes
    machines, alive = [], []
    launched = interruptions = 0
    done = 0
    waits = [None] * len(jobs)
    nxt = 0
    t = 0.0
    last_submit = jobs[-1].at if jobs else 0.0
    tick = max(1, int(round(params.scale_interval)))
    clean = True
    arrivals = ArrivalRate()

    def queued_value(job):
        return job.predicted if params.probed_at_submit else params.default_job_seconds

    def stop(machine, when):
        machine.stopped = when
        alive.remove(machine)

    while True:
        while nxt < len(jobs) and jobs[nxt].at <= t:
            queue.append(jobs[nxt])
            queued_seconds += queued_value(jobs[nxt])
            nxt += 1
        for m in list(alive):
            if m.interrupt_at <= t:
                interruptions += 1
                for job in reversed(m.running):
                    job.started = job.ends = None
                    queue.appendleft(job)
                    queued_seconds += queued_value(job)
                m.running = []
                stop(m, t)
        for m in alive:
            if m.running:
                before = len(m.running)
                m.running = [j for j in m.running if j.ends > t]
                done += before - len(m.running)
                if not m.running:
                    m.idle_since = t
        for m in list(alive):
            if (params.max_inactivity > 0 and t >= m.ready and not m.running
                    and t - m.idle_since >= params.max_inactivity):
                stop(m, t)
        for m in alive:
            while t >= m.ready and queue and len(m.running) < rules.slots:
                job = queue.popleft()
                queued_seconds -= queued_value(job)
                job.started, job.ends, job.tries = t, t + math.ceil(job.actual), job.tries + 1
                waits[job.index] = t - job.at
                m.running.append(job)
                m.idle_since = None
        if int(t) % tick == 0:
            running_seconds = sum(max(0.0, j.predicted * (j.ends - t) / max(1.0, j.ends - j.started))
                                  for m in alive for j in m.running)
            view = View(
                now=t,
                encoders=tuple(Encoder(m.id, m.launched, booted=t >= m.ready, jobs=len(m.running),
                                       idle_since=m.idle_since) for m in alive),
                unfinished=len(queue) + sum(len(m.running) for m in alive),
                backlog_seconds=max(0.0, queued_seconds) + running_seconds,
                arrival_rate=arrivals.observe(t, nxt))
            decision = decide(view, rules)
            for encoder_id in decision.retire:
                m = next(m for m in alive if m.id == encoder_id)
                if m.running:
                    clean = False
                stop(m, t)
            for _ in range(decision.launch):
                launched += 1
                life = (max(1.0, math.ceil(rng.expovariate(params.interruptions_per_hour / 3600.0)))
                        if params.spot and params.interruptions_per_hour > 0 else math.inf)
                m = _Machine(f"sim-{launched}", t, t + params.boot_delay, t + life)
                m.idle_since = m.ready
                machines.append(m)
                alive.append(m)
        if (done == len(jobs) and not alive) or t >= last_submit + params.drain_limit:
            break
        t += 1.0
    for m in list(alive):
        stop(m, t)
    used = sum(m.stopped - m.launched for m in machines)
    billed = sum(max(params.billing_minimum, m.stopped - m.launched) for m in machines)
    price = params.spot_price if params.spot else params.price
    return Result(rules.policy, len(jobs), billed, used, billed / 3600.0 * price,
                  [w for w in waits if w is not None], launched, interruptions, t,
                  unfinished=len(jobs) - done, work_seconds=sum(math.ceil(j.actual) for j in jobs),
                  never_stopped_mid_job=clean)
