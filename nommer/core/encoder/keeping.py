"""What the Keeper does for the jobs in flight, in its own thread, while
their stages work: keep them alive (queue lease, heartbeat_at) and stop the
work of any that is no longer this encoder's."""

from nommer.core.errors import Canceled, NotFound
from nommer.core.model.jobs import RUNNING_STATES, utcnow


def heartbeat_jobs(tasks, new_jobs, journal, lease_seconds):
    """Extend the queue lease of each job in flight and mark it alive."""
    for task in tasks.in_flight():
        new_jobs.extend(task.receipt, lease_seconds)
        try:
            journal.write(task, lambda j: j.with_changes(heartbeat_at=utcnow()))
        except (Canceled, NotFound):
            task.stop()


def check_canceled(tasks, store, encoder_id):
    """Stop the work of any job in flight that was canceled, re-queued or
    taken by another encoder."""
    for task in tasks.in_flight():
        try:
            job = store.get(task.id)
        except NotFound:
            task.stop()
            continue
        if job.state not in RUNNING_STATES or job.encoder_id != encoder_id:
            task.stop()
