"""Uploading an encoded job: store every output made at its destination;
UPLOADING → FINISHED, then the message goes. Runs in a thread of the
Uploader's pool."""

from nommer.core.encoder.transfer import retrying
from nommer.core.errors import JobFailed
from nommer.core.model import outputs as outputs_mod
from nommer.core.model import results
from nommer.core.model.jobs import State
from nommer.core.security import credentials


class Upload:
    def __init__(self, storage, box, new_jobs, journal, tasks, log):
        self.storage = storage
        self.box = box
        self.new_jobs = new_jobs
        self.journal = journal
        self.tasks = tasks
        self.log = log

    def __call__(self, task):
        """Store every output made at its destination; → FINISHED (JobFailed
        when an output failed), then delete the message."""
        destinations = credentials.real_uris(self.box, task.job)["destinations"]
        uploading = [i for i, o in enumerate(task.outputs) if o.get("state") == outputs_mod.UPLOADING]
        total = sum(task.facts[i]["size"] for i in uploading) or 1
        before = 0
        for index in uploading:
            # The last output's state goes with the job's last write (FINISHED,
            # or ERROR through Ending), not in a write of its own.
            self._store(task, index, destinations[index], before, total, write=index != uploading[-1])
            before += task.facts[index]["size"]
        failed = outputs_mod.failures(task.outputs)
        if failed:
            raise JobFailed(outputs_mod.failure_details(task.outputs), code=failed[0][1]["error_code"])
        task.phases["upload"] = 100
        job = self.journal.set_state(task, State.FINISHED, details="", notes=task.notes_said())
        self.new_jobs.delete(task.receipt)
        self.log.info("job finished", job_id=job.id, outputs=len(job.outputs))
        self.tasks.forget(task, "finished")

    def _store(self, task, index, destination, before, total, write=True):
        """Store output ``index`` at ``destination`` (with its credentials, if
        any) and mark it FINISHED, or ERROR when that failed (written at once
        unless ``write`` is false)."""
        output, target = task.outputs[index], task.targets[index]

        def uploaded(done, _total):
            self.journal.progress(task, "upload", (before + done) * 100 // total)

        put = self.storage.put_folder if target.folder else self.storage.put
        about = {"job_id": task.id, "output": index,
                 **({"preset": output["preset"]} if output.get("preset") else {})}
        try:
            stored = retrying(
                lambda: put(target.path, destination, progress=uploaded, cancel=task.cancel),
                task, "upload", self.log)
            if not target.folder:
                stored = [(destination, stored)]  # put answers the byte count
            # A folder output's manifest is written after its files.
            made = retrying(
                lambda: results.finish(self.storage, task.facts[index], stored, destination,
                                       task.workdir / f"manifest-{index}.json", cancel=task.cancel,
                                       about=about),
                task, "upload", self.log)
        except JobFailed as e:
            self.journal.mark(task, [index], outputs_mod.ERROR, write=write, error_code=e.code, error=str(e))
        else:
            self.journal.mark(task, [index], outputs_mod.FINISHED, write=write, result=made)
