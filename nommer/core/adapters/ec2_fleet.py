"""The Fleet on EC2: one instance per encoder, each tagged with the cluster.

Instances start from a launch template or from an AMI with the ``ec2_*``
settings, with user data that installs this nommer version and starts the
encoder (``ec2_user_data``). The fleet is the set of pending or running
instances tagged ``nommer:cluster=<cluster>`` and ``nommer:role=encoder``;
an instance is never recognised by its AMI. A member's id is its instance id,
which is also the id its encoder heartbeats under.

Encoders outlive the feeder: stopping the feeder leaves them running, and each
terminates its own instance once idle (``idle_terminate``).
"""

import hashlib
import json
import re
import time
import uuid

import botocore.exceptions
import structlog

from nommer.core.adapters import aws, ec2_user_data
from nommer.core.backoff import Backoff
from nommer.core.errors import ConfigError
from nommer.core.ports.fleet import Fleet, Member
from nommer.core.model.jobs import utcnow

# Lazy: resolved at each call, after the process configured logging.
log = structlog.get_logger("nommer.ec2")

TAG_CLUSTER = "nommer:cluster"
TAG_ROLE = "nommer:role"
ROLE = "encoder"
DEFAULT_INSTANCE_TYPE = "c5.large"
_CLUSTER = re.compile(r"^[A-Za-z0-9_-]{1,40}\Z")
_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}\Z")
# What EC2 answers when it has no spot capacity (or price) for the request;
# the launch is tried again on demand.
SPOT_REFUSALS = frozenset({
    "InsufficientInstanceCapacity", "InsufficientCapacity", "SpotMaxPriceTooLow",
    "MaxSpotInstanceCountExceeded", "UnfulfillableCapacity", "InsufficientHostCapacity",
    "SpotCapacityNotAvailable", "CapacityNotAvailable",
})
# A spot launch the caller is not allowed: an on-demand launch may still be
# (the policy lacks what spot needs: the spot-instances-request resource, the
# spot service-linked role).
SPOT_UNAUTHORIZED = frozenset({"UnauthorizedOperation", "AccessDenied", "AuthFailure"})
# "... is not authorized to perform: ec2:RunInstances on resource: arn:... because ..."
_MISSING_PERMISSION = re.compile(
    r"not authorized to perform:?\s+(?P<action>[\w-]+:[\w*-]+)"
    r"(?:\s+on resource:?\s+(?P<resource>\S+))?")
# A launch that failed waits this long (doubling, up to the cap) before the next.
LAUNCH_BACKOFF = (10.0, 300.0)
# Seconds a launched instance counts as a member before EC2 lists it.
RECENT_GRACE = 120.0


def check_cluster(name):
    if not _CLUSTER.match(name or ""):
        raise ConfigError(f"setting 'cluster': {name!r} must be 1 to 40 letters, digits, "
                          "hyphens and underscores")
    return name


def missing_permission(message):
    """The permission an authorization failure names ("ec2:RunInstances on
    arn:aws:ec2:...:spot-instances-request/*"), or "" when it names none."""
    found = _MISSING_PERMISSION.search(message or "")
    if not found:
        return ""
    resource = (found["resource"] or "").rstrip(".,;")
    return f"{found['action']} on {resource}" if resource else found["action"]


def launch_problem(error):
    """What /health and /fleet say of a failed launch."""
    problem = {"at": utcnow(), "code": aws.error_code(error) or type(error).__name__,
               "message": aws.describe(error)}
    permission = missing_permission(problem["message"])
    if permission:
        problem["missing_permission"] = permission
    return problem


def _started_at(instance):
    when = instance.get("LaunchTime")
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if when else ""


def _member(instance):
    state = instance.get("State", {}).get("Name", "")
    lifecycle = instance.get("InstanceLifecycle", "on-demand")
    zone = instance.get("Placement", {}).get("AvailabilityZone", "")
    return Member(
        id=instance["InstanceId"],
        state="starting" if state == "pending" else "running",
        started_at=_started_at(instance),
        detail=" ".join(filter(None, [instance.get("InstanceType"), lifecycle, zone])),
        market="spot" if lifecycle == "spot" else "on-demand",
    )


def fleet_filters(cluster, states=("pending", "running")):
    return [
        {"Name": f"tag:{TAG_CLUSTER}", "Values": [cluster]},
        {"Name": f"tag:{TAG_ROLE}", "Values": [ROLE]},
        {"Name": "instance-state-name", "Values": list(states)},
    ]


def terminate_member(client, cluster, instance_id):
    """Terminate ``instance_id`` if it is a pending or running encoder of
    ``cluster``; False (and nothing done) otherwise."""
    if not _INSTANCE_ID.match(instance_id or ""):
        return False
    try:
        reservations = client.describe_instances(
            InstanceIds=[instance_id], Filters=fleet_filters(cluster))["Reservations"]
        if not any(r["Instances"] for r in reservations):
            return False
        client.terminate_instances(InstanceIds=[instance_id])
    except botocore.exceptions.ClientError as e:
        if aws.error_code(e).startswith("InvalidInstanceID"):
            return False
        raise
    return True


def terminate_self(region, cluster, instance_id):
    """An idle encoder ends its own instance (after dropping its heartbeat).
    Only an instance this cluster's fleet tagged is terminated."""
    client = aws.client("ec2", region)
    try:
        return terminate_member(client, cluster, instance_id)
    finally:
        client.close()


def _fingerprint(params):
    # The user data is part of it: a changed encoder setting is a new launch.
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


class Ec2Fleet(Fleet):
    def __init__(self, config, client=None):
        self.config = config
        self.cluster = check_cluster(config.cluster)
        if not config.ec2_launch_template and not config.ec2_ami:
            raise ConfigError("settings 'ec2_launch_template' and 'ec2_ami': the aws backend "
                              "needs one of them to launch encoder instances")
        if config.ec2_ami and not config.ec2_ami.startswith("ami-"):
            raise ConfigError(f"setting 'ec2_ami': {config.ec2_ami!r} is not an AMI id (ami-...)")
        self.client = client or aws.client("ec2", config.aws_region or None)
        # Encoders get the region the feeder resolved, so they need not guess.
        self.user_data = ec2_user_data.render(config, region=self.client.meta.region_name)
        self._launch_after = 0.0
        self._failures = 0
        self._failed_with = None  # fingerprint of the parameters of the failed launch
        self._launch_error = None
        self._spot_error = None
        self._recent = {}  # instance id -> (Member, monotonic launch time)
        self._waited = None  # seconds the oldest waiting job has waited (note_wait)
        self._last = {}

    # -- launching ----------------------------------------------------------------

    def _tags(self):
        return [{"Key": TAG_CLUSTER, "Value": self.cluster},
                {"Key": TAG_ROLE, "Value": ROLE},
                {"Key": "Name", "Value": f"{self.cluster}-encoder"}]

    def run_parameters(self):
        """The RunInstances parameters of one encoder (on demand)."""
        c = self.config
        tags = self._tags()
        params = {
            "MinCount": 1,
            "MaxCount": 1,
            "UserData": self.user_data,
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags},
                                  {"ResourceType": "volume", "Tags": tags}],
            # A shutdown from inside ends the instance instead of leaving a stopped
            # one (and its volume) to pay for.
            "InstanceInitiatedShutdownBehavior": "terminate",
        }
        if c.ec2_launch_template:
            key = "LaunchTemplateId" if c.ec2_launch_template.startswith("lt-") else "LaunchTemplateName"
            params["LaunchTemplate"] = {key: c.ec2_launch_template,
                                        "Version": c.ec2_launch_template_version}
        if c.ec2_ami:
            params["ImageId"] = c.ec2_ami
        if c.ec2_instance_type or not c.ec2_launch_template:
            params["InstanceType"] = c.ec2_instance_type or DEFAULT_INSTANCE_TYPE
        if c.ec2_subnet:
            params["SubnetId"] = c.ec2_subnet
        if c.ec2_security_groups:
            params["SecurityGroupIds"] = list(c.ec2_security_groups)
        if c.ec2_key_name:
            params["KeyName"] = c.ec2_key_name
        if c.ec2_instance_profile:
            key = "Arn" if c.ec2_instance_profile.startswith("arn:") else "Name"
            params["IamInstanceProfile"] = {key: c.ec2_instance_profile}
        return params

    def _run(self, params):
        # A client token makes botocore's retries of one launch idempotent.
        answer = self.client.run_instances(**params, ClientToken=uuid.uuid4().hex)
        return [_member(i) for i in answer["Instances"]]

    def note_wait(self, seconds):
        self._waited = seconds

    def market_for_launch(self):
        """"spot" or "on-demand": spot when ``ec2_spot`` is set (spot first),
        unless ``on_demand_after`` is set and the oldest waiting job (as last
        told by note_wait) has waited that long: work that waited too long
        gets capacity that cannot be refused or taken back."""
        if not self.config.ec2_spot:
            return "on-demand"
        after = self.config.on_demand_after
        if after > 0 and self._waited is not None and self._waited >= after:
            return "on-demand"
        return "spot"

    def launch(self, count):
        """Start up to ``count`` encoders, one RunInstances call each, so each
        gets spot or on-demand capacity on its own and a shortage stops the
        launch where it is. A launch EC2 refuses is logged, kept for /health
        and /fleet (``problems``), and the next one waits (10 s, doubling to
        5 min), so a wrong setting does not become a storm of calls; the wait
        ends at once when the launch parameters change or ``retry_launches``
        is called."""
        if count <= 0:
            return []
        params = self.run_parameters()
        fingerprint = _fingerprint(params)
        if time.monotonic() < self._launch_after and fingerprint == self._failed_with:
            return []
        launched = []
        market = self.market_for_launch()
        if market == "on-demand" and self.config.ec2_spot:
            log.info("jobs waited longer than on_demand_after; launching on demand",
                     waited=round(self._waited, 1), on_demand_after=self.config.on_demand_after)
        try:
            for _ in range(count):
                members = self._launch_spot(params) if market == "spot" else None
                if members is None:
                    members = self._run(params)
                launched.extend(members)
                now = time.monotonic()
                self._recent.update({m.id: (m, now) for m in members})
            self._failures = 0
            self._failed_with = None
            self._launch_error = None
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self._failures += 1
            wait = Backoff(*LAUNCH_BACKOFF, jitter=0).delay(self._failures)
            self._launch_after = time.monotonic() + wait
            self._failed_with = fingerprint
            self._launch_error = {**launch_problem(e), "next_try_in": round(wait)}
            log.error("cannot launch encoder instances", next_try_in=round(wait),
                      reason=aws.describe(e), cluster=self.cluster,
                      missing_permission=self._launch_error.get("missing_permission"))
        if launched:
            log.info("launched encoder instances", ids=[m.id for m in launched],
                     cluster=self.cluster)
        return launched

    def _launch_spot(self, params):
        """Members launched as spot instances, or None when EC2 refused spot
        capacity, or refused this caller a spot launch (an on-demand one may
        still be allowed; the refusal stays in ``problems``)."""
        spot = {**params, "InstanceMarketOptions": {
            "MarketType": "spot",
            "SpotOptions": {"SpotInstanceType": "one-time",
                            "InstanceInterruptionBehavior": "terminate"},
        }}
        try:
            members = self._run(spot)
        except botocore.exceptions.ClientError as e:
            code = aws.error_code(e)
            if code in SPOT_UNAUTHORIZED:
                self._spot_error = launch_problem(e)
                log.error("spot launch not allowed; launching on demand",
                          reason=aws.describe(e),
                          missing_permission=self._spot_error.get("missing_permission"))
                return None
            if code not in SPOT_REFUSALS:
                raise
            log.warning("spot capacity refused; launching on demand", reason=aws.describe(e))
            return None
        self._spot_error = None
        return members

    def problems(self):
        found = {}
        if self._launch_error:
            found["launch_error"] = dict(self._launch_error)
        if self._spot_error:
            found["spot_error"] = dict(self._spot_error)
        return found

    def retry_launches(self):
        self._launch_after = 0.0
        self._failures = 0
        self._failed_with = None
        # Stale once the cause may be fixed; the next launch says again if not.
        self._launch_error = None
        self._spot_error = None
        log.info("launch backoff reset", cluster=self.cluster)

    # -- the fleet ------------------------------------------------------------------

    def _describe(self):
        pages = self.client.get_paginator("describe_instances").paginate(
            Filters=fleet_filters(self.cluster))
        return [_member(i) for page in pages for r in page["Reservations"] for i in r["Instances"]]

    def members(self):
        """Pending and running instances tagged as this cluster's encoders.

        EC2 lists a new instance only after a while, so instances launched in
        the last ``RECENT_GRACE`` seconds count even when not listed yet (else
        the Scaler would launch them again). When EC2 cannot be asked, the
        last answer stands."""
        try:
            found = {m.id: m for m in self._describe()}
            self._last = found
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            if not aws.is_transient(e):
                raise
            log.warning("cannot list encoder instances; using the last list",
                        reason=aws.describe(e))
            found = dict(self._last)
        now = time.monotonic()
        for member_id, (member, launched_at) in list(self._recent.items()):
            if member_id in found or now - launched_at > RECENT_GRACE:
                del self._recent[member_id]
            else:
                found[member_id] = member
        return list(found.values())

    def retire(self, member_id):
        """Terminate the instance if it is one of this cluster's encoders.
        The encoder gets SIGTERM from systemd and hands its jobs back."""
        self._recent.pop(member_id, None)
        try:
            terminated = terminate_member(self.client, self.cluster, member_id)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            # Logged for the operator: the Scaler lives on, the instance stays.
            log.error("cannot terminate encoder instance", instance_id=member_id,
                      reason=aws.describe(e))
            return False
        if terminated:
            log.info("terminated encoder instance", instance_id=member_id)
        return terminated

    def stop_all(self, timeout=10.0):
        """Nothing: encoders finish what is queued, then end their own
        instances when idle. A feeder restart must not cut jobs short."""
        log.info("leaving the encoder instances running; they stop when idle",
                 cluster=self.cluster)
