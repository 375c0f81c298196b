"""The simulator's accounting on traces small enough to check by hand, its
determinism, and that it drives the Scaler's own policy function."""

import dataclasses
import json

import pytest

from nommer.actors import scaler as scaler_actor
from nommer.core.feeder import scaling
from nommer.core.feeder.costs import CostModel
from nommer.sim import __main__ as cli
from nommer.sim import engine, traces
from nommer.sim.engine import Params, simulate
from nommer.sim.traces import Submission

ONE_TO_ONE = CostModel(default_job_seconds=10.0, seed={"p": 1.0})  # 1 s of work per source second
WAIT = scaling.Rules(policy="wait-target", slots=2, maximum=4, target_wait=100.0,
                     retire_idle_after=10.0, warm_horizon=0.0)
EXACT = Params(boot_delay=30.0, scale_interval=1.0, max_inactivity=0.0, noise=0.0,
               default_job_seconds=10.0)


def test_one_job_waits_the_boot_and_the_encoder_is_billed_its_minimum():
    result = simulate([Submission(0.0, 10.0, "p")], WAIT, EXACT, costs=ONE_TO_ONE)
    # Launched at 0, booted at 30: the job waits 30 s, runs 30..40; idle
    # from 40, retired once seen idle 10 s AND its first 60 s are billed: at 60.
    assert result.waits == [30.0]
    assert (result.launches, result.used_seconds, result.instance_seconds) == (1, 60.0, 60.0)
    assert result.cost == pytest.approx(60 / 3600 * EXACT.price)
    assert result.never_stopped_mid_job and result.unfinished == 0


def test_an_instance_stopped_early_is_billed_the_60_second_minimum():
    rules = scaling.Rules(policy="media-nommer", slots=2, maximum=4)
    params = dataclasses.replace(EXACT, boot_delay=5.0, max_inactivity=5.0)
    result = simulate([Submission(0.0, 1.0, "p")], rules, params, costs=ONE_TO_ONE)
    # Ready at 5, works 5..6, idle 5 s: stops itself at 11; billed 60.
    assert result.waits == [5.0]
    assert result.used_seconds == 11.0 and result.instance_seconds == 60.0
    spot = simulate([Submission(0.0, 1.0, "p")], rules, dataclasses.replace(params, spot=True),
                    costs=ONE_TO_ONE)
    assert spot.cost == pytest.approx(60 / 3600 * params.spot_price)


def test_a_second_job_is_taken_by_the_warm_encoder_without_a_launch():
    trace = [Submission(0.0, 10.0, "p"), Submission(45.0, 10.0, "p")]
    result = simulate(trace, WAIT, EXACT, costs=ONE_TO_ONE)
    # The encoder is idle from 40 but not yet 60 s old at 45: it takes the
    # second job at once, 45..55, and is retired at 65.
    assert result.waits == [30.0, 0.0]
    assert (result.launches, result.instance_seconds) == (1, 65.0)


def test_jobs_of_an_interrupted_spot_instance_finish_elsewhere():
    trace = traces.steady(seed=3, hours=2.0, rate=60.0)
    params = dataclasses.replace(EXACT, spot=True, interruptions_per_hour=6.0, seed=3)
    result = simulate(trace, WAIT, params)
    assert result.interruptions > 0
    assert result.unfinished == 0 and len(result.waits) == len(trace)


@pytest.mark.parametrize("name", sorted(traces.BUILT_IN))
def test_the_same_seed_gives_the_same_run(name):
    first = simulate(traces.BUILT_IN[name](seed=5, hours=2.0), WAIT, dataclasses.replace(EXACT, seed=5))
    again = simulate(traces.BUILT_IN[name](seed=5, hours=2.0), WAIT, dataclasses.replace(EXACT, seed=5))
    other = traces.BUILT_IN[name](seed=6, hours=2.0)
    assert first.summary() == again.summary() and first.waits == again.waits
    assert other != traces.BUILT_IN[name](seed=5, hours=2.0)
    assert first.never_stopped_mid_job


def test_it_drives_the_policy_function_the_scaler_actor_uses(monkeypatch):
    assert engine.decide is scaler_actor.decide is scaling.decide
    seen = []

    def spy(view, rules):
        seen.append(view)
        return scaling.decide(view, rules)

    monkeypatch.setattr(engine, "decide", spy)
    simulate([Submission(0.0, 10.0, "p")], WAIT, EXACT, costs=ONE_TO_ONE)
    assert seen and seen[0].unfinished == 1 and seen[0].backlog_seconds == 10.0


def test_a_csv_trace_is_read_and_a_bad_line_refused(tmp_path, capsys):
    good = tmp_path / "trace.csv"
    good.write_text("submit,duration,preset\n5,30,mp4-h264-720p\n0,60,m4a-aac\n")
    assert traces.load_csv(good) == [Submission(0.0, 60.0, "m4a-aac"), Submission(5.0, 30.0, "mp4-h264-720p")]
    assert cli.main(["--trace", str(good), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["policy"] for r in out["results"]] == ["wait-target", "media-nommer"]
    assert all(r["jobs"] == 2 and r["unfinished"] == 0 for r in out["results"])
    bad = tmp_path / "bad.csv"
    bad.write_text("submit,duration,preset\n0,60,m4a-aac\n3,-1,m4a-aac\n")
    with pytest.raises(traces.TraceError, match="line 3: duration must be more than 0"):
        traces.load_csv(bad)
    assert cli.main(["--trace", str(bad)]) == 2
    assert "line 3" in capsys.readouterr().err
    (tmp_path / "cols.csv").write_text("time,duration\n")
    with pytest.raises(traces.TraceError, match="missing column.*preset, submit"):
        traces.load_csv(tmp_path / "cols.csv")


def test_a_bad_setting_is_refused_by_the_command_naming_it(capsys):
    assert cli.main(["--trace", "steady", "--hours", "0.1", "--target-wait", "0"]) == 2
    assert "'target_wait'" in capsys.readouterr().err


def test_python_dash_m_nommer_sim_runs_both_policies():
    import os
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    env = {k: v for k, v in env.items() if not k.startswith("NOMMER_")}
    done = subprocess.run([sys.executable, "-m", "nommer.sim", "--trace", "bursts", "--hours", "2",
                           "--seed", "1"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("trace bursts, ") and "seed 1" in lines[0]
    assert [line.split()[0] for line in lines[2:]] == ["wait-target", "media-nommer"]
