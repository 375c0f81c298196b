"""The encoder's logic: what an encoder does with one job, spot notices,
giving up on a machine, and what each ffmpeg run is allowed.

A job's steps, each a small class given what it needs, wired together by
``core.EncoderCore`` (the one object the actors hold):

==============  ==========================================  ==========================
module          step                                        state change
==============  ==========================================  ==========================
``claim.py``    take the job of a new-job message           PENDING → DOWNLOADING
``fetch.py``    check outputs, download, probe the source   DOWNLOADING → ENCODING
                (or read its boxes: the encode probes it)
``encode.py``   make every output (``extras.py`` around)    ENCODING → UPLOADING
``upload.py``   store every output made                     UPLOADING → FINISHED
``ending.py``   fail, abort or release a job                → ERROR, or PENDING
``keeping.py``  heartbeats, lease extensions, cancel checks  (heartbeat_at)
``planning.py`` cut an accelerated job into pieces (fetch)  → ENCODING, no owner
==============  ==========================================  ==========================

A piece of an accelerated job (``Task.piece``) goes through the same
stages, its steps in ``piecework.py``: a segment or the audio is fetched,
encoded and stored in scratch (``scratch.py``), then DONE; the stitch joins
them, checks and uploads the outputs, and finishes the job. Its writes are
those of a piece's holder (``journal.py``).

Beside them: ``task.py`` (Task, one job in flight, and Tasks, those in
flight), ``journal.py`` (every write of a job this encoder holds, and its
report to the feeder), ``runs.py`` (its ffmpeg runs, confined and
stoppable), ``transfer.py`` (retrying a download or upload).

Threads
-------
Which thread calls what (the actors are in ``nommer/actors/encoder/``):

- the Puller's thread: ``Claim`` (adds a Task to Tasks), ``in_flight``;
- a worker thread of the Fetcher's pool: ``Fetch``, then ``Ending.end``
  if it raised; likewise the Encoder's pool (``Encode``) and the
  Uploader's (``Upload``). Each pool has ``jobs_per_encoder`` threads, so
  the same step of different jobs, and different steps, run at once;
- the Keeper's thread: ``keeping.heartbeat_jobs``, ``keeping.check_canceled``,
  ``heartbeat_fields``, ``in_flight``;
- the main thread (``nommer/encoder.py``) and the SpotWatcher's:
  ``in_flight``, ``Task.stop`` with ``release_on_cancel``, ``intake_open``.

One Task is in one stage at a time: a stage hands it to the next by a
message, so its working fields (outputs, phases, targets, facts, probe...)
are only ever touched by the thread of the step that holds it (ffmpeg's
and the storage's progress callbacks run in that thread too). Any other
thread only

- stops it: ``Task.stop`` sets ``cancel`` (an Event) and cancels the ffmpeg
  run in ``Task.run``; the step sees it at its next progress report, write
  or run and raises Canceled;
- writes its job: the Keeper's heartbeat, through ``Journal.write``.

The locks:

- ``Task.lock`` guards ``Task.job`` and is held across one conditional
  write of it (read, change, write, re-read on a lost race), store calls
  included. So a step's write and the Keeper's heartbeat of the same job
  take turns instead of racing each other; a step may wait for one
  heartbeat write. No other lock is taken while it is held.
- ``Tasks``' lock guards the dict of tasks in flight and the counts of
  how jobs ended; held only for those, never across a call out.

Everything else the steps share (the config, the presets, the store, the
queues and the storage) is either never changed after start or safe to
call from several threads at once (the SQLite adapters keep a
connection per thread; boto3's clients are thread-safe).
"""
