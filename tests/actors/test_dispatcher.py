"""The Dispatcher queues each job at its priority: on the SQLite queue the
encoders then get the higher priority first."""

import json

from nommer.actors.dispatcher import Dispatcher
from nommer.actors.messages import Enqueue
from nommer.core import config as config_mod
from nommer.core.adapters.sqlite_queue import SqliteWorkQueue


def test_jobs_are_queued_at_their_priority(tmp_path):
    path = str(tmp_path / "nommer.sqlite3")
    new_jobs, state_changes = SqliteWorkQueue(path, "new-jobs"), SqliteWorkQueue(path, "changes")
    config = config_mod.load(environ={}, overrides={"data_dir": str(tmp_path),
                                                    "state_check_interval": 0.2})
    dispatcher = Dispatcher.start(config, new_jobs, state_changes)
    try:
        for job_id, priority in (("low", -10), ("normal", 0), ("high", 50), ("normal-2", 0)):
            dispatcher.tell(Enqueue(job_id, priority))
        assert dispatcher.proxy().depth().get()["new_jobs"] == (4, 0)  # all sent by now
        taken = [json.loads(m.body)["job_id"] for m in new_jobs.receive(max_messages=10)]
    finally:
        dispatcher.stop()
        new_jobs.close()
        state_changes.close()
    assert taken == ["high", "normal", "normal-2", "low"]
