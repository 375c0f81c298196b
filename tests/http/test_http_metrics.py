"""The Prometheus text rendering on its own."""

from nommer.core.jobs import State
from nommer.http.metrics import render


def test_job_counts_by_state_list_every_state():
    # The feeder's health() reports {"jobs": store.counts()}, which leaves
    # out states without jobs.
    lines = render({"jobs": {"PENDING": 3, "ERROR": 1}}, True).splitlines()

    assert lines[:3] == ["# TYPE nommer_healthy gauge", "nommer_healthy 1", "# TYPE nommer_jobs gauge"]
    assert 'nommer_jobs{state="PENDING"} 3' in lines
    assert 'nommer_jobs{state="ERROR"} 1' in lines
    assert 'nommer_jobs{state="FINISHED"} 0' in lines
    assert len([line for line in lines if line.startswith("nommer_jobs{")]) == len(State)


def test_numbers_and_series_with_a_named_label():
    text = render({"encoders": 2, "uptime": 1.5, "queue": {"name": {"new": 4, "changes": 0}}}, True)

    assert text.splitlines()[2:] == [
        "# TYPE nommer_encoders gauge",
        "nommer_encoders 2",
        "# TYPE nommer_uptime gauge",
        "nommer_uptime 1.5",
        "# TYPE nommer_queue gauge",
        'nommer_queue{name="new"} 4',
        'nommer_queue{name="changes"} 0',
    ]


def test_names_are_made_legal_and_label_values_escaped():
    text = render({"queue depth": {"queue name": {'new "jobs"\\': 4}}}, True)

    assert 'nommer_queue_depth{queue_name="new \\"jobs\\"\\\\"} 4' in text.splitlines()


def test_a_flat_series_without_a_known_label_is_labelled_key():
    assert 'nommer_workers{key="fetch"} 2' in render({"workers": {"fetch": 2}}, True).splitlines()


def test_what_is_not_a_number_is_left_out():
    text = render({"version": "1.0", "build": {"state": {"x": "many"}}, "flag": True}, False)

    assert "version" not in text
    assert "nommer_build" not in text
    assert "nommer_flag 1" in text.splitlines()
    assert "nommer_healthy 0" in text.splitlines()


def test_no_metrics_still_answers_health():
    assert render(None, True) == "# TYPE nommer_healthy gauge\nnommer_healthy 1\n"
