"""How far a job has got: a percent per phase and one overall figure.

A job's work has three phases: ``download`` (bytes of the source fetched),
``encode`` (time encoded against the probed duration, over all outputs) and
``upload`` (bytes of every output stored). The overall percent weighs them
10 / 80 / 10: encoding is nearly always the long part, and fixed weights keep
the overall figure from jumping back when a phase starts.
"""

from nommer.core.model.jobs import State

PHASES = ("download", "encode", "upload")
WEIGHTS = {"download": 10, "encode": 80, "upload": 10}
PHASE_OF_STATE = {
    State.DOWNLOADING: "download",
    State.ENCODING: "encode",
    State.UPLOADING: "upload",
}


def empty():
    return {phase: 0 for phase in PHASES}


def done():
    return {phase: 100 for phase in PHASES}


def overall(phases):
    """The overall whole percent of ``phases`` (0..100, rounded down)."""
    phases = phases or {}
    total = sum(WEIGHTS[p] * max(0, min(100, int(phases.get(p, 0)))) for p in PHASES)
    return total // sum(WEIGHTS.values())


def phase_of(state):
    """The phase a job in ``state`` is in, or None when it is not running."""
    return PHASE_OF_STATE.get(State(state))


def phases_of(job):
    """The per-phase percents of ``job``, filled in for jobs that predate them."""
    if job.phases:
        return {p: int(job.phases.get(p, 0)) for p in PHASES}
    if job.state == State.FINISHED:
        return done()
    return empty()
