"""Settings: one TOML file, every key overridable by a ``NOMMER_<KEY>`` variable.

Each setting is declared once in :data:`SETTINGS` with its type, default and
meaning; ``docs/settings.md`` is written from the same table. Loading checks
every value and names the key (and where it came from) when one is wrong.
"""

import dataclasses
import json
import os
import pathlib
import tomllib

from nommer.core.errors import ConfigError, InvalidInput


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # "str", "int", "float", "bool", "list", "path", "choice", "table"
    default: object
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    legacy: str = ""  # media-nommer's name for it (and, after it, a note for the docs)
    legacy_scale: float = 1  # what one of media-nommer's units is in nommer's (hours: 3600)
    separator: str = os.pathsep  # between the items of a list given in the environment
    # A function of the converted value that returns it checked: raising
    # ValueError (InvalidInput for tables, naming the place inside).
    check: object = None
    secret: bool = False  # never shown: not in messages, not in the docs table


def _check_tokens(tokens):
    for n, token in enumerate(tokens):
        if len(token) < 16:
            raise ValueError(f"token {n + 1} is shorter than 16 characters")
        if not all(33 <= ord(ch) < 127 for ch in token):
            raise ValueError(f"token {n + 1} has a character other than printable ASCII without spaces")
    return tokens


def _check_networks(networks):
    import ipaddress

    for text in networks:
        try:
            ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{text!r} is not a network such as 10.0.0.0/8 or fd00::/8") from None
    return [n.strip() for n in networks]


def _check_secret_key(text):
    if text:
        from cryptography.fernet import Fernet

        for n, key in enumerate(text.split(",")):
            try:
                Fernet(key.strip())
            except (ValueError, TypeError):
                raise ValueError(f"key {n + 1} is not a Fernet key (32 bytes in url-safe base64)") from None
    return text


def _check_webhook_secret(text):
    if text:
        from nommer.core.security.signing import secret_bytes

        secret_bytes(text)  # raises ValueError saying what is wrong
    return text


def _check_module_name(text):
    if text and not all(part.isidentifier() for part in text.split(".")):
        raise ValueError("must be a Python module name (dotted, like nommer.testing.faults)")
    return text


def _check_wheelhouse(text):
    if text:
        from nommer.core import s3uri

        if not s3uri.is_s3(text):
            raise ValueError("must be an s3://bucket/prefix/ folder")
        try:  # a folder: parse it as the URI of a file in it
            location = s3uri.parse(text.rstrip("/") + "/x")
        except s3uri.InvalidInput as e:
            raise ValueError(e.problem) from None
        if location.has_credentials:
            raise ValueError("must carry no credentials (encoders read it with their instance profile)")
        text = f"s3://{location.bucket}/{location.key[:-1]}"
    return text


def _check_presets(value):
    # Imported here: the settings table must load without ffmpeg's modules.
    from nommer.core.ffmpeg.custom import check_presets
    from nommer.core.ffmpeg.presets import PRESETS

    return check_presets(value, built_in_names=PRESETS)


SETTINGS = [
    Setting("backend", "choice", "local", "Which adapters to use: `local` (SQLite store and queue, encoder subprocesses, local files) or `aws` (DynamoDB, SQS, EC2, S3).", choices=("local", "aws")),
    Setting("store", "choice", "", "The job store: empty picks `sqlite` with `backend = \"local\"` and `dynamodb` with `backend = \"aws\"`; `simpledb` is for AWS accounts that still have SimpleDB (docs/stores.md).", choices=("", "sqlite", "dynamodb", "simpledb")),
    Setting("retention_days", "int", 30, "Days a job is kept after it reached a final state (FINISHED, ERROR, ABANDONED, CANCELED) before the store deletes it; 0 keeps every job forever.", minimum=0),
    Setting("sqlite_synchronous", "choice", "FULL", "How the embedded SQLite store and queues (`backend = \"local\"`) commit: `FULL` syncs each commit to disk before a submission is answered 201 (a group of concurrent writes shares one sync), so an accepted job survives a power cut; `NORMAL` skips the sync, which survives the death of any process but may lose the last commits in a power cut.", choices=("FULL", "NORMAL")),
    Setting("data_dir", "path", "./nommer-data", "Folder of the embedded store and queues, encoder work folders and logs."),
    Setting("host", "str", "127.0.0.1", "Address the feeder's HTTP API listens on."),
    Setting("port", "int", 8001, "Port of the feeder's HTTP API (media-nommer's port).", minimum=0),
    Setting("ffmpeg", "str", "", "Path of the ffmpeg binary; empty uses the one bundled with the imageio-ffmpeg package."),
    Setting("file_roots", "list", [], "Folders that `file://` sources and destinations may be under. The working directory is allowed too (unless it is `/`); the data folder never is, not even under a root."),
    Setting("allow_overwrite", "bool", False, "Whether a `file://` destination may replace an existing file that nommer did not write. By default only files nommer wrote for an earlier job (marked with the extended attribute `user.nommer.output`) are replaced, so running a job again works; any other existing file is refused. Never the job's own source, the configuration file or anything in the data folder, whatever this says."),
    Setting("jobs_per_encoder", "int", 2, "Jobs one encoder works on at once.", minimum=1, legacy="MAX_ENCODING_JOBS_PER_EC2_INSTANCE"),
    Setting("max_encoders", "int", 0, "Most encoders the Scaler runs at once; 0 means 3 on AWS and half the CPU cores (at least 1) locally.", minimum=0, legacy="MAX_NUM_EC2_INSTANCES"),
    Setting("autoscale", "bool", True, "Whether the Scaler starts encoders for the work queued; when false it only keeps `min_encoders` running (encoders started by hand join in either way)."),
    Setting("min_encoders", "int", 0, "Encoders the Scaler keeps running even with no work.", minimum=0),
    Setting("job_overflow_threshold", "int", 2, "Unfinished jobs beyond fleet capacity that make the Scaler start more encoders.", minimum=0, legacy="JOB_OVERFLOW_THRESH"),
    Setting("scaling_policy", "choice", "wait-target", "How the Scaler sizes the fleet: `wait-target` counts the unfinished work in predicted encoder-seconds (source duration × the preset's cost factor) and runs ceil(backlog / (`target_wait` × `jobs_per_encoder`)) encoders (never more than the jobs can fill), booting ones counted as capacity arriving, and retires an idle encoder no work is predicted for once its first 60 billed seconds are used; `media-nommer` is media-nommer's rule (unfinished jobs against `jobs_per_encoder` plus `job_overflow_threshold`; idle encoders stop themselves after `max_inactivity`). See docs/benchmarks.md for what each costs.", choices=("wait-target", "media-nommer")),
    Setting("target_wait", "float", 120.0, "Seconds of predicted work per encoder slot the `wait-target` policy lets queue before it starts another encoder: the wait it aims for.", minimum=1.0),
    Setting("keep_warm", "float", 0.0, "Seconds ahead the `wait-target` policy looks when it decides whether to retire an idle encoder: it keeps as many idle encoders as the jobs the recent submission rate (over about 15 minutes) predicts in that time can fill, since a relaunch bills its boot and makes the job wait for it; an idle encoder then stops itself only after `max_inactivity` + `keep_warm`. 0 keeps none: the cheapest in the simulator; about the boot time (say 120) cuts the median wait at some cost (docs/benchmarks.md).", minimum=0.0),
    Setting("default_job_seconds", "float", 60.0, "Encoder-seconds the `wait-target` policy predicts for a job whose source is not probed yet (its duration unknown).", minimum=0.0),
    Setting("scale_interval", "float", 2.0, "Seconds between the Scaler's looks at the queue and the fleet.", minimum=0.05, legacy="FEEDERD_AUTO_SCALE_INTERVAL"),
    Setting("state_check_interval", "float", 1.0, "Longest wait, in seconds, of the feeder's read of the state-change queue.", minimum=0.05, legacy="FEEDERD_JOB_STATE_CHANGE_CHECK_INTERVAL"),
    Setting("state_change_lease", "float", 120.0, "Seconds a state change the feeder has taken stays hidden on the state-change queue until its webhook is delivered; one the feeder had in hand when it died is dealt with again after this.", minimum=1),
    Setting("reap_interval", "float", 10.0, "Seconds between the Reaper's looks for lost and stuck jobs.", minimum=0.05, legacy="FEEDERD_PRUNE_JOBS_INTERVAL"),
    Setting("abandon_after", "float", 6 * 3600.0, "Seconds a job may stay unfinished without any change before it is marked ABANDONED (a PENDING one up to a twentieth of this later: the Reaper reads every PENDING job only that often).", minimum=1, legacy="FEEDERD_ABANDON_INACTIVE_JOBS_THRESH (hours there)", legacy_scale=3600),
    Setting("heartbeat_interval", "float", 5.0, "Seconds between an encoder's heartbeats (and lease extensions).", minimum=0.05, legacy="NOMMERD_HEARTBEAT_INTERVAL"),
    Setting("lease_seconds", "float", 60.0, "Queue visibility timeout of a job being worked on; the encoder extends it while it works. A job whose encoder is silent this long is given to another encoder.", minimum=1),
    Setting("boot_timeout", "float", 600.0, "Seconds an encoder may take from the launch of its machine to its first heartbeat; a machine still silent then is ended (on AWS, terminated), no longer counted as capacity, and any job it held goes back to the queue.", minimum=1),
    Setting("lost_contact_timeout", "float", 900.0, "Seconds an encoder goes on without reaching the job store or the queue before it gives up: it stops, runs `shutdown_command` and exits with status 3 (on EC2 the instance then powers off and, launched with shutdown behaviour `terminate`, ends).", minimum=1),
    Setting("shutdown_command", "str", "", "Command (split like a shell does, run without one) an encoder runs to power its machine off when it gives up on it: on AWS when the instance metadata service (`imds_endpoint`) does not tell it its instance id, and after `lost_contact_timeout`. Empty: it only exits, with status 3; the unit of EC2 encoder instances powers the instance off on that status."),
    Setting("max_attempts", "int", 3, "Times a job is tried (its encoder lost) before it ends in ERROR.", minimum=1),
    Setting("acceleration", "choice", "PREFERRED", "Accelerated encoding (docs/accelerated.md) of jobs that do not ask for it or against it with their own `acceleration`: `PREFERRED` cuts the video of an eligible job (the video presets, on a source longer than `accelerate_min_seconds`) into segments that any encoder with a free slot takes, and encodes any other job whole, saying so in its notes; `DISABLED` encodes every such job whole. A farm's encoders finish a long source sooner together than one of them alone. (`ENABLED`, accelerated or failed, is for a job to ask.)", choices=("PREFERRED", "DISABLED")),
    Setting("accelerate_min_seconds", "float", 600.0, "Seconds a source must last, beyond which its job may be accelerated; shorter sources are encoded whole, since cutting, stitching and checking cost more than they save.", minimum=0.0),
    Setting("segment_seconds", "float", 60.0, "Seconds of source of one segment of an accelerated job (about: cuts move to the source's key frames; HLS outputs cut on whole HLS segments). Longer when a job would otherwise have more than 240 pieces.", minimum=1.0),
    Setting("scratch_uri", "str", "", "Where an accelerated job's encoded segments wait to be stitched, reachable by every encoder: a folder (`file:///...` or a path) or, on AWS, an S3 folder (`s3://bucket/prefix/`). Empty: `data_dir/scratch` with `backend = \"local\"`; with `backend = \"aws\"` jobs are then encoded whole. Each job's files are deleted when it ends."),
    Setting("idle_terminate", "bool", True, "Whether an idle encoder stops itself (and, on AWS, terminates its instance).", legacy="NOMMERD_TERMINATE_WHEN_IDLE"),
    Setting("max_inactivity", "float", 60.0, "Seconds an encoder stays idle before it stops itself.", minimum=0, legacy="NOMMERD_MAX_INACTIVITY"),
    Setting("stop_grace", "float", 30.0, "Seconds a stopping encoder lets its jobs in flight finish before it hands the rest back to the queue.", minimum=0),
    Setting("poll_wait", "float", 1.0, "Longest wait, in seconds, of one encoder read of the new-job queue (SQS long poll caps it at 20).", minimum=0.0, legacy="NOMMERD_NEW_JOB_CHECK_INTERVAL"),
    Setting("transfer_rate_limit", "int", 0, "Most bytes per second one download or upload of an encoder may take (0: no limit), to leave bandwidth to others.", minimum=0),
    Setting("cancel_check_interval", "float", 0.5, "Seconds between an encoder's checks of its jobs for cancellation.", minimum=0.05),
    Setting("progress_interval", "float", 2.0, "Least seconds between two progress writes of one job (and between two `job.progress` webhooks).", minimum=0.0),
    Setting("encode_timeout", "float", 6 * 3600.0, "Seconds the encoding of one job may take before it ends in ERROR with code TIMED_OUT; 0 for no limit.", minimum=0.0),
    Setting("encode_time_factor", "float", 20.0, "How long the encoding of one job may take relative to the source's duration: this many times the duration plus `encode_time_slack` seconds, after which it ends in ERROR with code TOO_SLOW (`encode_timeout` still bounds it too); 0 for no such limit.", minimum=0.0),
    Setting("encode_time_slack", "float", 60.0, "Seconds added to `encode_time_factor` × the source's duration (start-up, short sources).", minimum=0.0),
    Setting("max_output_bytes", "int", 20 * 1024 ** 3, "Most bytes the ffmpeg runs of one job may leave in its work folder (the source not counted); beyond it ffmpeg is stopped and the job ends in ERROR with code OUTPUT_TOO_LARGE. No file ffmpeg writes may grow past what is left (RLIMIT_FSIZE). 0 for no limit.", minimum=0),
    Setting("confinement", "choice", "auto", "Linux Landlock confinement of ffmpeg (docs/security.md): `auto` confines every run where the kernel has Landlock and, where it has not, runs presets unconfined and refuses jobs with their own `options` (CONFINEMENT_UNAVAILABLE); `required` confines every run and an encoder without Landlock does not start; `best-effort` confines where it can and otherwise runs every job unconfined, with a warning; `off` never confines (the limits still apply).", choices=("auto", "required", "best-effort", "off")),
    Setting("confinement_read_paths", "list", [], "Further files and folders a confined ffmpeg may read, such as fonts or LUT files an operator preset names; it may read nothing else but its job's work folder, its own binary and the system libraries."),
    Setting("presets", "table", {}, "The operator's own presets: in the file, one `[presets.NAME]` table each with `description`, `extension` and `args` (see docs/presets.md); in the environment, the same as a JSON object.", check=_check_presets),
    Setting("notify_attempts", "int", 5, "Deliveries tried for one webhook before giving up.", minimum=1),
    Setting("notify_timeout", "float", 5.0, "Seconds one webhook delivery may take.", minimum=0.1),
    Setting("notify_backoff", "float", 1.0, "Seconds before the first webhook retry; doubles each time.", minimum=0.0),
    Setting("request_timeout", "float", 10.0, "Seconds an HTTP request waits for the actors, or for a job store or queue that stays locked or keeps throttling a submission, before answering 503 (with `Retry-After`).", minimum=0.1),
    Setting("max_restarts", "int", 5, "Restarts of one crashed actor within `restart_window` before the feeder exits.", minimum=0),
    Setting("restart_window", "float", 60.0, "Seconds over which `max_restarts` is counted.", minimum=1),
    Setting("fault_rate", "float", 0.0, "For testing nommer itself: the fraction of job store and queue calls that fail with a transient error, with `adapter_hook = \"nommer.testing.faults\"` (see nommer/testing/faults.py). Keep 0 in production.", minimum=0.0, maximum=0.5),
    Setting("adapter_hook", "str", "", "For testing nommer itself: a module whose `wrap_adapters(parts, config)` the feeder and every encoder put around the job store and queues they build (`nommer.testing.faults` injects the faults of `fault_rate`). Keep empty in production.", check=_check_module_name),
    Setting("notify_backoff_max", "float", 60.0, "Longest wait, in seconds, between two webhook retries (the doubling stops there).", minimum=0.0),
    Setting("api_tokens", "list", [], "Bearer tokens the HTTP API accepts (`Authorization: Bearer <token>`); several, so that a token can be replaced without a gap. At least 16 characters each. Empty: no authentication, and the feeder then refuses to listen on anything but loopback. In the environment, separated by `,`.", separator=",", check=_check_tokens, secret=True),
    Setting("max_body_bytes", "int", 1_000_000, "Largest request body the HTTP API reads, in bytes; a larger one is refused with 413.", minimum=1024),
    Setting("legacy_networks", "list", [], "Networks (CIDR, e.g. `10.1.2.0/24`) whose hosts may call media-nommer's `POST /job/submit` (and `/job/submit/`) without a token, since media-nommer's client cannot send one. Empty: no such exception. Set, the feeder may listen beyond loopback without `api_tokens`; then every other route answers 401 to any caller but loopback. See docs/security.md for the risk. In the environment, separated by `,`.", separator=",", check=_check_networks),
    Setting("allowed_networks", "list", [], "Networks (CIDR, e.g. `10.0.0.0/8`) that http(s) sources and webhooks may reach although they are loopback, private, link-local or otherwise not public; by default they are refused. In the environment, separated by `,`.", separator=",", check=_check_networks),
    Setting("secret_key", "str", "", "Fernet key (`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`) that encrypts URIs carrying credentials in the job store; several separated by `,` to rotate (the first encrypts). Empty: such URIs are refused. Feeder and encoders need the same one.", check=_check_secret_key, secret=True),
    Setting("webhook_secret", "str", "", "Secret that signs webhooks (Standard Webhooks: `whsec_` then base64 of 24 to 64 random bytes). Empty: webhooks are not signed.", check=_check_webhook_secret, secret=True),
    # AWS (backend = "aws"). Credentials and endpoints are boto3's own
    # (its default chain, AWS_ENDPOINT_URL...), never settings.
    Setting("aws_region", "str", "", "AWS region of the queues, job store, instances and buckets; empty uses boto3's default (AWS_DEFAULT_REGION, the AWS config file) and, on an encoder instance, the instance's own region."),
    Setting("cluster", "str", "nommer", "Name of this farm on AWS: it prefixes the queue names and tags its encoder instances (`nommer:cluster`), so several farms can share an account. Letters, digits, hyphens and underscores."),
    Setting("dynamodb_table", "str", "", "Name of the DynamoDB table of the job store (`store = \"dynamodb\"`); empty means `<cluster>-jobs`. Created (on-demand capacity, TTL on) when it does not exist; one made beforehand, by a CloudFormation stack say, is used as it is (docs/stores.md has its layout)."),
    Setting("sqs_queue_prefix", "str", "", "Prefix of the SQS queue names; empty means `<cluster>-`. The queues are `<prefix>new-jobs` and `<prefix>state-changes`, each with a `-dead` dead-letter queue."),
    Setting("ec2_launch_template", "str", "", "Launch template of encoder instances: its name, or its id (`lt-...`). The `ec2_*` settings below, when set, override what it holds."),
    Setting("ec2_launch_template_version", "str", "$Default", "Version of `ec2_launch_template`: a number, `$Default` or `$Latest`."),
    Setting("ec2_ami", "str", "", "AMI id of encoder instances, needed without a launch template: a Linux with Python 3.11 or later and cloud-init."),
    Setting("ec2_instance_type", "str", "", "Instance type of encoders; empty means the launch template's, or `c5.large` without one."),
    Setting("ec2_subnet", "str", "", "Subnet id of encoder instances; empty means the launch template's, or the default VPC's."),
    Setting("ec2_security_groups", "list", [], "Security group ids of encoder instances (encoders need no inbound rule)."),
    Setting("ec2_key_name", "str", "", "EC2 key pair name for SSH into encoder instances; empty means none."),
    Setting("ec2_instance_profile", "str", "", "IAM instance profile (name or ARN) of encoder instances: their only source of AWS credentials."),
    Setting("ec2_spot", "bool", False, "Launch encoders as spot instances, falling back to on-demand when spot capacity is refused or a spot launch is not allowed (reported in /health and /fleet; see docs/aws.md)."),
    Setting("on_demand_after", "float", 0.0, "With `ec2_spot` (spot first): once the oldest job waiting for an encoder has waited this many seconds, the Scaler launches on-demand encoders instead of spot ones, until the wait is back under it. 0: always spot first.", minimum=0.0),
    Setting("install_spec", "str", "", "What an encoder instance installs with pip from the package index when `wheelhouse` is empty: empty means `nommer==<the feeder's version>` (not on PyPI); a wheel URL or another requirement works too (with no credentials in it)."),
    Setting("wheelhouse", "str", "", "S3 folder (`s3://bucket/prefix/`) where `nommer aws publish` puts nommer and its dependencies as wheels; encoder instances install from it with no package index. Empty: they pip install `install_spec` from the package index.", check=_check_wheelhouse),
    Setting("imds_endpoint", "str", "http://169.254.169.254", "Address of the EC2 instance metadata service (IMDSv2) that an encoder asks for its instance id and region."),
    Setting("spot_check_interval", "float", 5.0, "Seconds between two looks of an encoder on a spot instance (backend `aws`) at the instance metadata service's interruption notice (`spot/instance-action`) and rebalance recommendation: on either it stops taking jobs, hands back those it holds at once as fresh messages (not counted as attempts) and ends its instance. 0: never looks.", minimum=0.0),
    Setting("s3_part_size", "int", 8 * 1024 * 1024, "Bytes of one part of an S3 multipart upload; bigger outputs are uploaded in parts of this size. At least 5 MiB, S3's smallest part.", minimum=5 * 1024 * 1024),
    Setting("log_format", "choice", "console", "`console` for people, `json` for log collectors.", choices=("console", "json")),
    Setting("log_level", "choice", "info", "Least level logged.", choices=("debug", "info", "warning", "error")),
    Setting("log_file", "str", "", "File the process logs to, rotated at `log_max_bytes`; empty logs to standard error (the journal under systemd). The feeder sets it for each encoder it starts: `data_dir/logs/encoder-<id>.log`."),
    Setting("log_max_bytes", "int", 10 * 1024 * 1024, "Size at which `log_file` is rotated.", minimum=4096),
    Setting("log_backups", "int", 3, "Rotated log files kept (`.1` is the newest).", minimum=0),
    Setting("log_keep_days", "float", 7.0, "Days the log files of an encoder that no longer runs are kept.", minimum=0.0),
]

SETTINGS_BY_NAME = _BY_NAME = {s.name: s for s in SETTINGS}
# media-nommer's names (the first word of ``legacy``), taken in a config file.
_BY_LEGACY = {s.legacy.split()[0]: s for s in SETTINGS if s.legacy}
# Variables of the `nommer` client (nommer/cli), not settings of the farm: a
# shell that sets them can still start a feeder.
CLIENT_VARIABLES = frozenset({"NOMMER_URL", "NOMMER_TOKEN"})
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclasses.dataclass(frozen=True)
class Config:
    values: dict
    config_file: pathlib.Path | None = None  # the TOML file read, if any
    # What loading did that the operator should hear of (media-nommer's
    # setting names translated); logged once logging is set up.
    notes: tuple = ()

    def __getattr__(self, name):
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def replace(self, **changes):
        merged = {**self.values, **changes}
        plain = {k: str(v) if isinstance(v, pathlib.Path) else v for k, v in merged.items()}
        return dataclasses.replace(load(overrides=plain, environ={}), config_file=self.config_file,
                                   notes=self.notes)

    @property
    def encoders_max(self):
        if self.max_encoders:
            return self.max_encoders
        if self.backend == "aws":
            return 3
        return max(1, (os.cpu_count() or 2) // 2)

    @property
    def allowed_roots(self):
        # The working directory is a convenience for a first try; "/" (a
        # service started without one) would open every file of the machine.
        cwd = pathlib.Path.cwd().resolve()
        roots = ([cwd] if cwd != pathlib.Path(cwd.anchor) else []) + list(self.file_roots)
        return [pathlib.Path(r).resolve() for r in roots]

    @property
    def private_paths(self):
        """nommer's own files, which no job may read or write: the whole data
        folder (the job store, encoders' work folders, logs and pid files)
        and the configuration file."""
        return [self.data_dir] + ([self.config_file] if self.config_file else [])

    @property
    def db_path(self):
        return self.data_dir / "nommer.sqlite3"

    @property
    def work_dir(self):
        return self.data_dir / "work"

    def ffmpeg_exe(self):
        if self.ffmpeg:
            return self.ffmpeg
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()


class _Wrong(Exception):
    """What is wrong with a value, in words that follow "setting NAME (WHERE): "."""


def _text(setting, raw, from_env):
    if not isinstance(raw, str):
        raise _Wrong("must be text")
    return raw


def _path(setting, raw, from_env):
    return pathlib.Path(_text(setting, raw, from_env)).expanduser().resolve()


def _choice(setting, raw, from_env):
    if _text(setting, raw, from_env) not in setting.choices:
        raise _Wrong("must be one of " + ", ".join(setting.choices))
    return raw


def _bool(setting, raw, from_env):
    if isinstance(raw, bool):
        return raw
    if from_env and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise _Wrong("must be true or false")


def _number(setting, raw, from_env):
    whole = setting.kind == "int"
    if isinstance(raw, bool):
        raise _Wrong("must be a number")
    if from_env:
        try:
            raw = int(raw) if whole else float(raw)
        except ValueError:
            raise _Wrong("must be a whole number" if whole else "must be a number") from None
    if whole and not isinstance(raw, int):
        raise _Wrong("must be a whole number")
    if not isinstance(raw, (int, float)):
        raise _Wrong("must be a number")
    value = raw if whole else float(raw)
    if setting.minimum is not None and value < setting.minimum:
        raise _Wrong(f"must be at least {setting.minimum:g}")
    if setting.maximum is not None and value > setting.maximum:
        raise _Wrong(f"must be at most {setting.maximum:g}")
    return value


def _list(setting, raw, from_env):
    if from_env:
        raw = [p for p in raw.split(setting.separator) if p]
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise _Wrong("must be a list of text")
    return list(raw)


def _table(setting, raw, from_env):
    if from_env:
        try:
            raw = json.loads(raw)
        except ValueError as e:
            raise _Wrong(f"must be a JSON object ({e})") from None
    if not isinstance(raw, dict):
        raise _Wrong("must be a table")
    try:
        return setting.check(raw) if setting.check else dict(raw)
    except InvalidInput as e:
        raise _Wrong(str(e)) from None


# One converter per kind; each raises _Wrong, and _convert names the setting.
_CONVERTERS = {"str": _text, "path": _path, "choice": _choice, "bool": _bool, "int": _number,
               "float": _number, "list": _list, "table": _table}
# Kinds whose complaint quotes the value given (a table's names the place inside).
_QUOTES_VALUE = frozenset(_CONVERTERS) - {"table"}


def _convert(setting, raw, where):
    from_env = isinstance(raw, str) and where.startswith("environment")
    try:
        value = _CONVERTERS[setting.kind](setting, raw, from_env)
    except _Wrong as e:
        shown = "(hidden)" if setting.secret else repr(raw)
        tail = f", got {shown}" if setting.kind in _QUOTES_VALUE and not str(e).startswith("must be a JSON") else ""
        raise ConfigError(f"setting {setting.name!r} ({where}): {e}{tail}") from None
    if setting.check is not None and setting.kind != "table":
        try:
            value = setting.check(value)
        except ValueError as e:
            raise ConfigError(f"setting {setting.name!r} ({where}): {e}") from None
    return value


def default_of(setting):
    """The value ``setting`` has when nothing sets it."""
    return _convert(setting, setting.default, "default")


def load(path=None, overrides=None, environ=None):
    """Build the Config from defaults, then the TOML file, then ``NOMMER_*``
    variables, then ``overrides`` (command-line flags), checking every value.

    Every wrong key and value is reported at once: one ConfigError whose
    message has a line for each. media-nommer's setting names
    (``MAX_NUM_EC2_INSTANCES``...) are taken in a file, translated, and said
    in the Config's ``notes``."""
    environ = os.environ if environ is None else environ
    raw, sources, problems, notes = {}, {}, [], []
    if path is not None:
        path = pathlib.Path(path)
        try:
            with path.open("rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"config file {str(path)!r} does not exist") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {str(path)!r} is not valid TOML: {e}") from None
        where = f"config file {path}"
        for key, value in data.items():
            setting = _BY_LEGACY.get(key)
            if setting is not None:
                if setting.name in data:
                    problems.append(f"{where}: {key!r} is media-nommer's name of {setting.name!r}; "
                                    "give one of the two")
                    continue
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    value = value * setting.legacy_scale
                raw[setting.name] = value
                sources[setting.name] = f"{where}, as media-nommer's {key}"
                notes.append(f"{key} = {data[key]!r} in {path} is media-nommer's name: "
                             f"taken as {setting.name} = {value!r}")
            elif key not in _BY_NAME:
                problems.append(f"{where}: unknown setting {key!r}" + _suggest(key))
            else:
                raw[key] = value
                sources[key] = where
    for name, value in environ.items():
        if not name.startswith("NOMMER_") or name in CLIENT_VARIABLES:
            continue
        key = name[len("NOMMER_"):].lower()
        if key not in _BY_NAME:
            problems.append(f"environment variable {name}: unknown setting {key!r}" + _suggest(key))
            continue
        raw[key] = value
        sources[key] = f"environment {name}"
    for key, value in (overrides or {}).items():
        if key not in _BY_NAME:
            problems.append(f"unknown setting {key!r}" + _suggest(key))
            continue
        if value is None:
            continue
        raw[key] = value
        sources[key] = "command line"
    values = {}
    for setting in SETTINGS:
        given = setting.name in raw
        try:
            values[setting.name] = _convert(setting, raw[setting.name] if given else setting.default,
                                            sources[setting.name] if given else "default")
        except ConfigError as e:
            problems.append(str(e))
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        raise ConfigError(f"{len(problems)} settings are wrong:\n" + "\n".join(f"- {p}" for p in problems))
    return Config(values, config_file=path.resolve() if path is not None else None, notes=tuple(notes))


def environment_text(name, value):
    """``value`` of setting ``name`` as its ``NOMMER_*`` variable would spell it,
    so that :func:`load` reads it back as the same value. The one serializer of
    settings: whatever hands settings to another process (encoder
    subprocesses, EC2 user data) goes through it. A list joins its items with
    the setting's own ``separator``; an item that holds it (or is empty) cannot
    travel and is refused, naming the setting."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        separator = _BY_NAME[name].separator
        for item in value:
            if not item or separator in item:
                raise ConfigError(f"setting {name!r}: the item {item!r} is empty or holds "
                                  f"{separator!r}, which separates the items in the environment")
        return separator.join(value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def environment_of(config, names=None):
    """``{NOMMER_NAME: text}`` of the settings ``names`` (all by default)."""
    names = list(config.values) if names is None else names
    return {f"NOMMER_{name.upper()}": environment_text(name, config.values[name]) for name in names}


def _suggest(key):
    import difflib

    close = difflib.get_close_matches(key, list(_BY_NAME), n=1)
    return f"; did you mean {close[0]!r}?" if close else "; see docs/settings.md for the list"


def settings_markdown():
    """The settings table of docs/settings.md."""
    lines = [
        "| setting | environment variable | default | meaning | media-nommer |",
        "|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        default = s.default if s.default not in ("", [], {}) else "(empty)"
        if isinstance(default, bool):
            default = str(default).lower()
        lines.append(
            f"| `{s.name}` | `NOMMER_{s.name.upper()}` | `{default}` | {s.doc} | {s.legacy} |"
        )
    return "\n".join(lines) + "\n"
