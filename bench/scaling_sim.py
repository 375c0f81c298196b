"""The scaling policies in the simulator (nommer.sim): every built-in trace
through the wait-target policy and media-nommer's rule with the default
settings, and the time of one policy decision over 1,000 encoders.

    python bench/scaling_sim.py
"""

import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))

from nommer.core.feeder import scaling  # noqa: E402
from nommer.core.config import load  # noqa: E402
from nommer.sim import traces  # noqa: E402
from nommer.sim.__main__ import rules_for  # noqa: E402
from nommer.sim.engine import Params, simulate  # noqa: E402

RUNS = [  # (trace, keyword arguments, label, settings changed)
    ("steady", {}, "steady Poisson, 30 jobs/h, 6 h", {}),
    ("daily", {}, "daily cycle, 40 jobs/h mean, 24 h", {}),
    ("daily", {}, "the same, `keep_warm` 60", {"keep_warm": 60.0}),
    ("daily", {}, "the same, `keep_warm` 120", {"keep_warm": 120.0}),
    ("daily", {"rate": 200.0}, "daily cycle, 200 jobs/h mean, 24 h", {}),
    ("daily", {"rate": 200.0}, "the same, `keep_warm` 60", {"keep_warm": 60.0}),
    ("bursts", {}, "bursts of 60 clips every 2 h, 6 h", {}),
    ("longtail", {}, "long tail (1 in 10 a film), 20 jobs/h, 24 h", {}),
]


def policy_runs(seed=0):
    out = []
    for name, kwargs, label, settings in RUNS:
        config = load(environ={}, overrides=settings)
        trace = traces.BUILT_IN[name](seed=seed, **kwargs)
        by = {}
        for policy in scaling.POLICIES:
            params = Params(max_inactivity=scaling.idle_limit(config.replace(scaling_policy=policy)),
                            default_job_seconds=config.default_job_seconds, seed=seed)
            by[policy] = simulate(trace, rules_for(config, policy), params).summary()
        new, old = by["wait-target"], by["media-nommer"]
        out.append({"trace": name, "label": label, "jobs": len(trace), "new": new, "old": old,
                    "saved": 1 - new["instance_seconds"] / old["instance_seconds"]})
    return out


def decide_ms(encoders=1000, repeats=50):
    """Milliseconds of one decide() over ``encoders`` encoders, half idle."""
    view = scaling.View(
        now=10_000.0, unfinished=100_000, backlog_seconds=3.6e4, arrival_rate=0.05,
        encoders=tuple(scaling.Encoder(f"e{i}", launched_at=0.0, jobs=2 if i % 2 else 0,
                                       idle_since=None if i % 2 else 9_000.0) for i in range(encoders)))
    rules = scaling.Rules(maximum=encoders)
    took = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        scaling.decide(view, rules)
        took.append((time.perf_counter() - t0) * 1000)
    return statistics.median(took)


def sim_at_scale(jobs=100_000, encoders=1000):
    """The simulator with ``jobs`` clips submitted at once and up to
    ``encoders`` encoders: the longest and median policy look (view built
    and decided) and the whole run's seconds."""
    import dataclasses
    import random

    from nommer.sim import engine

    rng = random.Random(0)
    trace = [traces.Submission(0.0, rng.uniform(10, 120), "mp4-h264-720p") for _ in range(jobs)]
    rules = dataclasses.replace(rules_for(load(environ={}), "wait-target"), maximum=encoders)
    took = []
    real = engine.decide

    def timed(view, rules):
        t0 = time.perf_counter()
        try:
            return real(view, rules)
        finally:
            took.append((time.perf_counter() - t0) * 1000)

    engine.decide = timed
    try:
        t0 = time.perf_counter()
        result = simulate(trace, rules, Params(seed=0))
        run_s = time.perf_counter() - t0
    finally:
        engine.decide = real
    return {"jobs": jobs, "encoders": encoders, "looks": len(took), "look_ms_median": statistics.median(took),
            "look_ms_max": max(took), "run_s": run_s, "launches": result.launches,
            "wait_p95": result.percentile(95)}


def main():
    runs = policy_runs()
    for r in runs:
        print(f"{r['label']}: wait-target {r['new']}, media-nommer {r['old']}, saved {r['saved']:.1%}")
    ms = decide_ms()
    print(f"decide() over 1000 encoders: {ms:.2f} ms")
    scale = sim_at_scale()
    print(f"simulator at scale: {scale}")
    return {"runs": runs, "decide_ms": ms, "scale": scale}


if __name__ == "__main__":
    main()
