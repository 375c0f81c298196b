"""What an encoder on EC2 learns about its instance from the instance
metadata service, IMDSv2: a session token first (PUT), then each value (GET)
with the token. Short timeouts: off EC2 nothing answers, and the encoder
should find that out in about a second."""

import dataclasses
import urllib.error
import urllib.request

from nommer.core.errors import NommerError

TOKEN_TTL = 300  # seconds; the encoder asks once at start


class ImdsUnavailable(NommerError):
    code = "IMDS_UNAVAILABLE"


@dataclasses.dataclass(frozen=True)
class Identity:
    instance_id: str
    region: str


class Imds:
    def __init__(self, endpoint="http://169.254.169.254", timeout=1.0):
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        # Never through a proxy from the environment: the service is link-local.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _open(self, request):
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                return answer.read().decode().strip()
        except urllib.error.HTTPError as e:
            raise ImdsUnavailable(f"the instance metadata service at {self.endpoint} "
                                  f"answered HTTP {e.code} to {request.full_url}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ImdsUnavailable(f"no instance metadata service at {self.endpoint} "
                                  f"({reason}): not on EC2?") from None

    def token(self):
        return self._open(urllib.request.Request(
            f"{self.endpoint}/latest/api/token", method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL)}))

    def get(self, path, token):
        return self._open(urllib.request.Request(
            f"{self.endpoint}/latest/meta-data/{path}",
            headers={"X-aws-ec2-metadata-token": token}))

    def get_optional(self, path, token):
        """The value at ``path``, or None when the service answers 404 (the
        interruption notice and the rebalance recommendation are there only
        when given)."""
        request = urllib.request.Request(f"{self.endpoint}/latest/meta-data/{path}",
                                         headers={"X-aws-ec2-metadata-token": token})
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                return answer.read().decode().strip()
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            return self._open(request)  # raises ImdsUnavailable naming the status
        except (urllib.error.URLError, OSError):
            return self._open(request)

    def identity(self):
        """The instance id and region of this instance; ImdsUnavailable off EC2."""
        token = self.token()
        instance_id = self.get("instance-id", token)
        region = self.get("placement/region", token)
        if not instance_id.startswith("i-") or not region:
            raise ImdsUnavailable(f"the instance metadata service at {self.endpoint} gave "
                                  f"an unexpected instance id {instance_id[:40]!r}")
        return Identity(instance_id, region)
