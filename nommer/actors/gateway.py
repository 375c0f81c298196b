"""The HTTP layer's way into the actors: every call is an ask with a timeout,
and a missing, dead or slow actor becomes Unavailable (a 503), never a hang."""

import datetime

import pykka

from nommer.actors import addresses, base
from nommer.actors.messages import Arrivals, Arrived, Enqueue
from nommer.core.feeder.api_types import FleetReport, HealthProblem, HealthReport
from nommer.core import log
from nommer.core.errors import QueueingLate, Unavailable
from nommer.core.retrying import deadline
from nommer.core.ports.fleet import busy_until, merged_members


_log = log.get("nommer.gateway")


class ActorGateway:
    def __init__(self, timeout, intake, presets=None, fleet_problems=None, arrivals=None):
        self.timeout = timeout
        # The fleet's launch problems, read without asking the Scaler, which
        # may be busy in a slow EC2 call: /health must answer at once.
        self._fleet_problems = fleet_problems
        # The preset catalogue is fixed at start, so listing it asks no actor.
        self._presets = presets
        # A submission is checked, stored and queued in the request's own
        # thread (a nommer.core.feeder.intake.Intake): many of them commit together
        # instead of queueing up one at a time in an actor's mailbox.
        self.intake = intake
        # New jobs for the JobTracker, told in batches (see Arrivals); the
        # feeder gives each JobTracker it starts the same, so that one
        # restarted takes those whose tell was lost with the one before.
        self._arrivals = arrivals if arrivals is not None else Arrivals()
        # Building a pykka proxy introspects the actor (a large share of a
        # request's time), so proxies are kept per actor URN. A restarted
        # actor has a new URN and so gets a new proxy; refs are still looked
        # up on every call.
        self._proxies = {}

    def _ask(self, address, method, *args, **kwargs):
        ref = base.lookup(address)
        actor_name = address.name
        if ref is None:
            raise Unavailable(f"the {actor_name} is restarting; try again in a moment")
        try:
            proxy = self._proxies.get(ref.actor_urn)
            if proxy is None:
                proxy = self._proxies[ref.actor_urn] = ref.proxy()
            future = getattr(proxy, method)(*args, **kwargs)
            return future.get(timeout=self.timeout)
        except pykka.ActorDeadError:
            raise Unavailable(f"the {actor_name} is restarting; try again in a moment") from None
        except pykka.Timeout:
            raise Unavailable(f"the {actor_name} did not answer within {self.timeout:g} s") from None

    def submit(self, source, outputs, notify_url=None, notify_format="json", progress_events=False,
               priority=0, acceleration=None):
        """Check, store and queue a new job; returns it once both writes are
        committed. A store that stays locked or keeps throttling makes it
        give up within ``timeout`` seconds, with a TransientError (a 503,
        nothing stored): the request's thread answers in time. A job stored
        whose queue message could not be written meanwhile raises
        QueueingLate (a 202): the Dispatcher queues it."""
        with deadline(self.timeout):
            job = self.intake.store(source, outputs, notify_url, notify_format, progress_events, priority,
                                    acceleration)
            # Before queueing (or, when the message was committed with the
            # job, before its receivers are woken): no change an encoder
            # makes can reach the JobTracker first.
            if self._arrivals.add(job):
                base.tell(addresses.JOB_TRACKER, Arrived(self._arrivals))
            try:
                self.intake.queue(job)
            except Exception as e:
                # Stored, perhaps not queued: the Dispatcher queues it in its own
                # time (and, should it fail too, the JobTracker has it queued
                # again at the next start). Only a committed message earns a
                # 201; the caller hears that the job is kept all the same, lest
                # it submit the job twice.
                base.tell(addresses.DISPATCHER, Enqueue(job.id, job.priority))
                _log.warning("job stored, its queue message left to the Dispatcher", job_id=job.id,
                             error=str(e))
                raise QueueingLate(job, str(e)) from e
        return job

    def presets(self):
        if self._presets is None:
            from nommer.core.ffmpeg import BUILT_IN_CATALOGUE

            return BUILT_IN_CATALOGUE.describe()
        return self._presets.describe()

    def get(self, job_id):
        return self._ask(addresses.JOB_TRACKER, "get", job_id)

    def list(self, state=None, limit=50, cursor=None):
        return self._ask(addresses.JOB_TRACKER, "list", state, limit, cursor)

    def cancel(self, job_id):
        return self._ask(addresses.JOB_TRACKER, "cancel", job_id)

    def retry(self, job_id):
        # Checked again like a new submission, in this thread, as submit does.
        again = self._ask(addresses.JOB_TRACKER, "retry_submission", job_id)
        return self.submit(again["source"], again["outputs"], again["notify_url"], again["notify_format"],
                           again["progress_events"], again.get("priority", 0), again.get("acceleration"))

    def fleet(self) -> FleetReport:
        members = self._ask(addresses.SCALER, "members")
        encoders = self._ask(addresses.JOB_TRACKER, "encoders")
        held = sorted({j for e in encoders for j in (e.get("info") or {}).get("jobs") or []})
        predicted = self._ask(addresses.JOB_TRACKER, "predicted_seconds", held) if held else {}
        until = busy_until(encoders, predicted, datetime.datetime.now(datetime.timezone.utc))
        encoders = [{**e, "busy_until": until.get(e.get("id"))} for e in encoders]
        members = [{**m, "busy_until": until.get(m.get("id"))} for m in merged_members(members, encoders)]
        return {"members": members, "encoders": encoders,
                "scaler": {"decision": self._ask(addresses.SCALER, "decision")},
                **self._ask(addresses.SCALER, "problems")}

    def encoder_states(self):
        """{state: count} of the fleet's members (starting, running...)."""
        try:
            members = self._ask(addresses.SCALER, "members")
        except Unavailable:
            return {}
        counts = {}
        for member in members:
            counts[member["state"]] = counts.get(member["state"], 0) + 1
        return counts

    def piece_states(self):
        """{state: count} of the pieces of unfinished accelerated jobs."""
        try:
            return self._ask(addresses.JOB_TRACKER, "piece_counts")
        except Unavailable:
            return {}

    def retry_fleet(self):
        """Launch again now, without waiting out the backoff of failed launches."""
        return {"retried": True, **self._ask(addresses.SCALER, "retry")}

    def health(self) -> tuple[bool, HealthReport]:
        """(ok, report). A part that is down makes ok False (a 503). Launches
        that fail make the status ``degraded`` with the reasons in
        ``problems`` but leave ok True: the feeder works, and a restart by a
        health checker would not mend a permission or a setting."""
        children = self._ask(addresses.SUPERVISOR, "health")
        ok = all(c["state"] == "running" for c in children.values())
        try:
            counts = self._ask(addresses.JOB_TRACKER, "counts")
        except Unavailable:
            counts, ok = {}, False
        try:
            problems = fleet_health(self._fleet_problems() if self._fleet_problems
                                    else self._ask(addresses.SCALER, "problems"))
        except Unavailable:
            problems = []  # the Scaler restarting shows in "actors" already
        report: HealthReport = {"status": "ok" if ok and not problems else "degraded", "actors": children,
                  "metrics": {"jobs": counts}}
        if problems:
            report["problems"] = problems
        if base.UNDELIVERED:  # told to an actor that was not running (restarting)
            report["undelivered_messages"] = dict(base.UNDELIVERED)
        return ok, report


def fleet_health(problems) -> list[HealthProblem]:
    """What /health, which answers without a token, says of the fleet's
    problems: what failed and which permission is missing, with ARNs and
    account ids left out (the full message is in /fleet, behind the token)."""
    said = []
    for kind, what in (("launch_error", "cannot launch encoders"),
                       ("spot_error", "spot launches refused; launching on demand")):
        problem = problems.get(kind)
        if not problem:
            continue
        reason = problem.get("code", "error")
        permission = problem.get("missing_permission", "")
        if permission:
            reason += f" (missing permission {permission.split(' on ')[0]})"
        said.append({"kind": kind, "at": problem.get("at"), "reason": f"{what}: {reason}"})
    return said
