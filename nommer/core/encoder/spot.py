"""Spot interruptions, as an encoder on a spot instance learns of them from
the instance metadata service (IMDSv2):

- ``spot/instance-action``: EC2 takes the instance back in two minutes
  (``{"action": "terminate", "time": "..."}``); 404 until then;
- ``events/recommendations/rebalance``: the instance is at raised risk of
  an interruption (``{"noticeTime": "..."}``); 404 until then.

Either is a notice: the encoder stops taking work, hands back what it holds
and ends its instance, and the Scaler launches the capacity again.
"""

import dataclasses
import json

from nommer.core.adapters.imds import ImdsUnavailable
from nommer.core.model.jobs import utcnow

INSTANCE_ACTION = "spot/instance-action"
REBALANCE = "events/recommendations/rebalance"
LIFECYCLE = "instance-life-cycle"  # "spot" or "on-demand"


@dataclasses.dataclass(frozen=True)
class Notice:
    kind: str  # "instance-action" or "rebalance"
    action: str  # terminate, stop, hibernate; "rebalance" for a recommendation
    time: str  # when EC2 acts (instance-action) or gave the recommendation
    seen_at: str  # when this encoder saw it

    def to_dict(self):
        return dataclasses.asdict(self)


def _json(text):
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class SpotWatch:
    """Looks for a notice; ``check()`` is one look. The session token is
    asked once and again when the service refuses it."""

    def __init__(self, imds):
        self.imds = imds
        self._token = None

    def _get(self, path):
        for fresh in (False, True):
            if self._token is None or fresh:
                self._token = self.imds.token()
            try:
                return self.imds.get_optional(path, self._token)
            except ImdsUnavailable:
                if fresh:
                    raise  # a new token did not help: the service is out of reach

    def market(self):
        """"spot" or "on-demand" (IMDS's instance-life-cycle); "" when not said."""
        value = self._get(LIFECYCLE) or ""
        return value if value in ("spot", "on-demand") else ""

    def check(self):
        """A Notice when one was given, else None; ImdsUnavailable when the
        service cannot be asked."""
        action = self._get(INSTANCE_ACTION)
        if action is not None:
            data = _json(action)
            return Notice("instance-action", str(data.get("action") or "terminate"),
                          str(data.get("time") or ""), utcnow())
        rebalance = self._get(REBALANCE)
        if rebalance is not None:
            data = _json(rebalance)
            return Notice("rebalance", "rebalance", str(data.get("noticeTime") or ""), utcnow())
        return None
