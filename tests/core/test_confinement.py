import pytest

from nommer.core.encoder import confinement
from nommer.core.errors import ConfigError


@pytest.mark.parametrize("mode, abi, uses_options, landlock, refused, warned", [
    # A kernel with Landlock: confined, whatever the job.
    ("auto", 7, True, True, False, False),
    ("auto", 1, False, True, False, False),
    ("required", 4, True, True, False, False),
    ("best-effort", 7, True, True, False, False),
    # Without Landlock: presets run with a warning, options only when allowed.
    ("auto", 0, False, False, False, True),
    ("auto", 0, True, False, True, False),
    ("best-effort", 0, True, False, False, True),
    ("best-effort", 0, False, False, False, True),
    ("required", 0, False, False, True, False),
    ("required", 0, True, False, True, False),
    # Off: never confined, always said.
    ("off", 7, True, False, False, True),
    ("off", 0, False, False, False, True),
])
def test_decide(mode, abi, uses_options, landlock, refused, warned):
    decision = confinement.decide(mode, abi, uses_options)
    assert decision.landlock is landlock
    assert bool(decision.refuse) is refused
    assert bool(decision.warning) is warned


def test_refusal_says_how_to_allow_it():
    reason = confinement.decide("auto", 0, True).refuse
    assert "no Landlock" in reason and 'confinement = "best-effort"' in reason


def test_decide_names_the_setting_for_an_unknown_mode():
    with pytest.raises(ConfigError, match="setting 'confinement': 'sometimes' is not one of auto, required"):
        confinement.decide("sometimes", 7, False)


def test_required_without_landlock_stops_the_start():
    with pytest.raises(ConfigError, match="setting 'confinement' is \"required\" but this kernel has no Landlock"):
        confinement.check_start("required", 0)
    for mode in ("auto", "best-effort", "off"):
        confinement.check_start(mode, 0)  # these start, and decide per job
    confinement.check_start("required", 7)


def test_read_paths_must_exist(tmp_path):
    confinement.check_start("auto", 7, [str(tmp_path)])
    for bad in (str(tmp_path / "missing.ttf"), "fonts"):
        with pytest.raises(ConfigError, match=f"setting 'confinement_read_paths': '{bad}' is not an absolute path"):
            confinement.check_start("auto", 7, [bad])


@pytest.mark.parametrize("timeout, factor, slack, duration, expected", [
    (21600, 20, 60, 10.0, (260.0, "TOO_SLOW")),  # 20 x 10 s + 60 s
    (100, 20, 60, 10.0, (100.0, "TIMED_OUT")),  # the absolute bound is tighter
    (21600, 20, 60, None, (21600.0, "TIMED_OUT")),  # unknown duration
    (0, 20, 60, 10.0, (260.0, "TOO_SLOW")),
    (21600, 0, 60, 10.0, (21600.0, "TIMED_OUT")),
    (0, 0, 60, 10.0, (None, None)),
    (0, 2, 0, 0.5, (1.0, "TOO_SLOW")),
])
def test_encode_limit(timeout, factor, slack, duration, expected):
    seconds, code, name = confinement.encode_limit(timeout, factor, slack, duration)
    assert (seconds, code) == expected
    if code == "TOO_SLOW":
        assert "encode_time_factor" in name and "encode_time_slack" in name
    elif code == "TIMED_OUT":
        assert name == f"encode_timeout ({timeout:g} s)"
