"""The feeder's job logic: accept, query and cancel jobs. The JobTracker actor
holds one :class:`JobService`; tests call it directly."""

import dataclasses
import math
import urllib.parse

from nommer.core.security import credentials
from nommer.core.errors import InvalidInput, InvalidTransition, NotFound, StaleWrite
from nommer.core.ffmpeg import BUILT_IN_CATALOGUE, extras, validate_output
from nommer.core.ffmpeg import captions as captions_mod
from nommer.core.ffmpeg import segments
from nommer.core.model.jobs import Job, State, UNFINISHED_STATES
from nommer.core.security.netguard import AddressPolicy
from nommer.core.ports.storage import scheme_of

MAX_OUTPUTS = 20
# Caption files of all the outputs of a job together: their URIs are kept in
# the job record, which must fit every job store.
MAX_JOB_CAPTIONS = 20

# MediaConvert's range: higher is taken first, first-in-first-out within one.
MIN_PRIORITY, MAX_PRIORITY = -50, 50


def check_priority(priority):
    """``priority`` as an int from -50 to 50; InvalidInput naming it otherwise."""
    if isinstance(priority, bool) or not isinstance(priority, int) \
            or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise InvalidInput("priority", f"must be a whole number from {MIN_PRIORITY} to "
                                       f"{MAX_PRIORITY}, not {priority!r}")
    return priority
ACCELERATIONS = ("DISABLED", "ENABLED", "PREFERRED")  # MediaConvert's names


def check_acceleration(acceleration, outputs, presets):
    """``acceleration`` (None: not asked) checked against ``outputs``;
    InvalidInput naming it when it is not one of ACCELERATIONS, or is
    ENABLED for outputs that are encoded whole whatever the source (the
    source's length and streams are known only after the probe)."""
    if acceleration is None:
        return None
    if acceleration not in ACCELERATIONS:
        raise InvalidInput("acceleration", f"must be one of {', '.join(ACCELERATIONS)}, not {acceleration!r}")
    if acceleration == "ENABLED":
        # Eligibility as the encoder decides it, for a source that passes
        # every check of its own: only what the outputs say counts here.
        any_source = {"duration": math.inf, "streams": ()}
        for i, output in enumerate(outputs):
            why = segments.eligible(output, any_source, presets, 0)
            if why:
                raise InvalidInput("acceleration", f"ENABLED, but outputs[{i}] cannot be accelerated: {why}; "
                                                   "ask for PREFERRED or DISABLED")
    return acceleration


MAX_NOTIFICATIONS = 20  # delivery records kept on a job, newest last
WRITE_RETRIES = 20
# What each URI of a job may be, whatever adapters are installed.
SOURCE_SCHEMES = ("file", "http", "https", "s3")
DESTINATION_SCHEMES = ("file", "s3")


def check_scheme(uri, allowed, field):
    scheme = scheme_of(uri, field)
    if scheme not in allowed:
        raise InvalidInput(
            field, f"scheme {scheme!r} is not allowed here (use one of: {', '.join(allowed)})"
        )


def check_notify_url(url, field="notify_url", policy=None):
    """Raise InvalidInput unless ``url`` is an http(s) URL to an address
    ``policy`` (by default: public addresses only) allows."""
    if url is None:
        return None
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(field, "must be an http:// or https:// URL")
    check_scheme(url, ("http", "https"), field)
    if not urllib.parse.urlsplit(url).hostname:
        raise InvalidInput(field, f"{credentials.shown(url)!r} is not an http:// or https:// URL with a host")
    (policy or AddressPolicy()).check_url(url, field)
    return url


def _refuse_overlap(here, other):
    """Raise InvalidInput naming ``here``'s field when the destination
    ``here`` would write the source, or where another destination writes.
    Each is ``(field, location, is_folder)``; a location is a tuple of names
    (see Storage.location), None when unknown."""
    field, place, folder = here
    other_field, other_place, other_folder = other
    if place is None or other_place is None:
        return
    if other_field == "source":
        if place == other_place or (folder and other_place[:len(place)] == place):
            where = "is" if place == other_place else "holds"
            raise InvalidInput(field, f"{where} the job's own source; an output never replaces its source")
        return
    if place == other_place:
        raise InvalidInput(field, f"is the destination of {other_field.rsplit('.', 1)[0]} too")
    if folder and other_place[:len(place)] == place:
        raise InvalidInput(field, f"is a folder that holds the destination of {other_field.rsplit('.', 1)[0]}")
    if other_folder and place[:len(other_place)] == other_place:
        raise InvalidInput(field, f"is inside the folder {other_field.rsplit('.', 1)[0]} writes")


# What a stored output keeps of a submission: where, how, and its preset's options.
OUTPUT_KEYS = ("destination", "preset", "options", "interval", "captions", *extras.OPTIONS)


def check_captions(captions, field, storage):
    """An output's ``captions``: each URI under the source's rules (scheme,
    allowed roots, addresses), and never with credentials in it, since only
    the source and destinations are stored sealed."""

    def check_uri(uri, here):
        check_scheme(uri, SOURCE_SCHEMES, here)
        storage.check(uri, write=False, field=here)
        if credentials.carries_secret(uri):
            raise InvalidInput(here, "carries credentials (user:password@ or a signature/token in the "
                                     "query); a caption URI must not: give the machines their own access "
                                     "to it (an instance profile, a readable folder)")

    captions_mod.check_option(captions, field, check_uri)


class JobService:
    """``policy`` says which addresses webhooks may reach; ``box`` (a
    credentials.SecretBox, or None) encrypts URIs that carry credentials,
    which are refused without one; ``presets`` is the preset catalogue."""

    def __init__(self, store, storage, policy=None, box=None, presets=BUILT_IN_CATALOGUE):
        self.store = store
        self.storage = storage
        self.policy = policy or AddressPolicy()
        self.box = box
        self.presets = presets

    def validate(self, source, outputs, notify_url=None, progress_events=False, priority=0,
                 acceleration=None):
        """Check a submission completely; raises InvalidInput naming the field."""
        # Each URI is resolved once, though asked about twice (where, and whether usable).
        with self.storage.looking():
            self._validate(source, outputs, notify_url, progress_events, priority, acceleration)

    def _validate(self, source, outputs, notify_url, progress_events, priority, acceleration=None):
        check_priority(priority)
        check_scheme(source, SOURCE_SCHEMES, "source")
        self.storage.check(source, write=False, field="source")
        if not isinstance(outputs, (list, tuple)) or not outputs:
            raise InvalidInput("outputs", "must be a non-empty list of outputs")
        if len(outputs) > MAX_OUTPUTS:
            raise InvalidInput("outputs", f"at most {MAX_OUTPUTS} outputs per job")
        places = [("source", self._location(source, "source"), False)]
        captions = sum(len(o["captions"]) for o in outputs
                       if isinstance(o, dict) and isinstance(o.get("captions"), list))
        if captions > MAX_JOB_CAPTIONS:
            raise InvalidInput("outputs", f"at most {MAX_JOB_CAPTIONS} caption files per job, all outputs "
                                          f"together; these ask for {captions}")
        for i, output in enumerate(outputs):
            field = f"outputs[{i}]"
            if not isinstance(output, dict):
                raise InvalidInput(field, "must be an object with destination and preset or options")
            # The preset first: it says whether the destination is a file or a folder.
            requested = validate_output(output, field, self.presets)
            destination = output.get("destination")
            check_scheme(destination, DESTINATION_SCHEMES, f"{field}.destination")
            here = (f"{field}.destination", self._location(destination, f"{field}.destination"),
                    requested.writes_folder)
            for other in places:
                _refuse_overlap(here, other)
            places.append(here)
            self.storage.check(destination, write=True, field=f"{field}.destination",
                               folder=requested.writes_folder)
            if "captions" in output:
                check_captions(output["captions"], f"{field}.captions", self.storage)
        check_acceleration(acceleration, outputs, self.presets)
        check_notify_url(notify_url, policy=self.policy)
        if progress_events and not notify_url:
            raise InvalidInput("progress_events", "needs a notify_url to send the progress events to")
        credentials.refuse_without_key(self.box, [
            ("source", source),
            *((f"outputs[{i}].destination", o.get("destination")) for i, o in enumerate(outputs)),
            ("notify_url", notify_url),
        ])

    def _location(self, uri, field):
        try:
            return self.storage.location(uri, field)
        except AttributeError:  # a storage that cannot tell: compare the URIs
            return ("uri", uri)

    def submit(self, source, outputs, notify_url=None, notify_format="json", progress_events=False,
               priority=0, acceleration=None):
        """Validate and store a new PENDING job; returns it. Nothing is stored
        when any part is wrong."""
        self.validate(source, outputs, notify_url, progress_events, priority, acceleration)
        return self.create(source, outputs, notify_url, notify_format, progress_events, priority,
                           acceleration)

    def create(self, source, outputs, notify_url=None, notify_format="json", progress_events=False,
               priority=0, acceleration=None, messages=None):
        """Store a new PENDING job from a submission :meth:`validate` passed.
        With ``messages``, the store's ``create_queued``: the job and the
        queue messages ``messages(stored job)`` in one transaction."""
        clean = [{k: v for k, v in o.items() if k in OUTPUT_KEYS} for o in outputs]
        if notify_format not in ("json", "form"):
            raise InvalidInput("notify_format", "must be json or form")
        credentials.refuse_without_key(self.box, [
            ("source", source), ("notify_url", notify_url),
            *((f"outputs[{i}].destination", o.get("destination")) for i, o in enumerate(clean)),
        ])
        source, clean, notify_url, sealed = credentials.seal_uris(self.box, source, clean, notify_url)
        job = Job.new(source, clean, notify_url, notify_format=notify_format, sealed=sealed,
                      progress_events=bool(progress_events), priority=check_priority(priority),
                      acceleration=check_acceleration(acceleration, clean, self.presets))
        if messages is not None:
            return self.store.create_queued(job, messages)
        return self.store.create(job)

    def get(self, job_id):
        return self.store.get(job_id)

    def list(self, state=None, limit=50, cursor=None):
        if state is not None:
            names = [s.strip().upper() for s in str(state).split(",") if s.strip()]
            try:
                state = {State(n) for n in names}
            except ValueError:
                known = ", ".join(s.value for s in State)
                raise InvalidInput("state", f"{state!r} is not a job state (one of {known})") from None
        return self.store.list(state=state, limit=limit, cursor=cursor)

    def cancel(self, job_id):
        """Mark the job CANCELED; its encoder notices and stops ffmpeg.
        Raises InvalidTransition when the job has already finished."""
        return self.change(job_id, State.CANCELED, details="canceled by request")

    def retry_submission(self, job_id):
        """The submission of the finished job ``job_id`` as it was made (URIs
        unsealed): a dict of create()'s arguments. Raises InvalidTransition
        while the job is unfinished."""
        job = self.store.get(job_id)
        if not job.is_final:
            raise InvalidTransition(f"job {job_id} is {job.state}, not finished; only a finished job can be retried")
        uris = credentials.real_uris(self.box, job)
        outputs = [{**{k: v for k, v in o.items() if k in OUTPUT_KEYS}, "destination": d}
                   for o, d in zip(job.outputs, uris["destinations"])]
        return {"source": uris["source"], "outputs": outputs, "notify_url": uris["notify_url"],
                "notify_format": job.notify_format, "progress_events": job.progress_events,
                "priority": job.priority, "acceleration": job.acceleration}

    def retry(self, job_id):
        """A new PENDING job with the submission of the finished job
        ``job_id`` (its source, outputs, webhook), checked again as a new
        submission is; the old job stays as it was."""
        return self.submit(**self.retry_submission(job_id))

    def change(self, job_id, state, **fields):
        """Apply one transition, re-reading and retrying when another writer
        got there first."""
        for _ in range(WRITE_RETRIES):
            job = self.store.get(job_id)
            if job.is_final and state != job.state:
                raise InvalidTransition(f"job {job_id} is already {job.state}")
            try:
                return self.store.update(job.transition(state, **fields))
            except StaleWrite:
                continue
        raise StaleWrite(f"job {job_id} kept changing; try again")

    def record_notification(self, job_id, record):
        """Add or replace (same ``id``) the delivery record of one webhook on
        the job, by a conditional write; returns the job, None when it is gone."""
        return self.record_notifications(job_id, [record])

    def record_notifications(self, job_id, records):
        """Add or replace (same ``id``) the delivery records of webhooks of
        the job, in order, by one conditional write; returns the job, None
        when it is gone."""
        for _ in range(WRITE_RETRIES):
            try:
                job = self.store.get(job_id)
            except NotFound:
                return None
            notes = list(job.notifications)
            for record in records:
                notes = [n for n in notes if n.get("id") != record.get("id")] + [record]
            notes = notes[-MAX_NOTIFICATIONS:]
            # replace, not with_changes: telling about the job is not activity
            # of the job, so updated_at (which the Reaper watches) stays.
            try:
                return self.store.update(dataclasses.replace(job, notifications=tuple(notes)))
            except StaleWrite:
                continue
        raise StaleWrite(f"job {job_id} kept changing; its webhook records were not written")

    def unfinished(self):
        return [j for j in self.store.unfinished() if j.state in UNFINISHED_STATES]

    def counts(self, states=None):
        return self.store.counts(states)
