"""What the Keeper does for the jobs in flight, in its own thread, while
their stages work: keep them alive (queue lease, heartbeat_at, a piece's
heartbeat_at) and stop the work of any that is no longer this encoder's."""

from nommer.core.errors import Canceled, NotFound


def heartbeat_jobs(tasks, new_jobs, journal, lease_seconds):
    """Extend the queue lease of each job or piece in flight and mark it alive."""
    for task in tasks.in_flight():
        new_jobs.extend(task.receipt, lease_seconds)
        try:
            journal.touch(task)
        except (Canceled, NotFound):
            task.stop()


def check_canceled(tasks, store, journal):
    """Stop the work of any job or piece in flight that was canceled,
    re-queued or taken by another encoder.

    Every change of a job raises its version, so a job still at the version
    its task last read or wrote, which this encoder held then, is held
    still: only the versions are looked at (one look for all the jobs where
    the store can), and only a job that changed is read.
    """
    held = [task for task in tasks.in_flight() if not task.left]
    if not held:
        return
    versions = store.versions([task.id for task in held])
    for task in held:
        known = task.job  # replaced whole by each write, never changed in place
        if versions.get(task.id) == known.version and journal.holds(task, known):
            continue
        try:
            job = store.get(task.id)
        except NotFound:
            task.stop()
            continue
        if not journal.holds(task, job):
            task.stop()
