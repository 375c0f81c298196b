"""The feeder's HTTP API as the ``nommer`` command uses it: JSON in and out,
and every failure turned into a :class:`CliError` a person can act on."""

import json
import socket
import urllib.error
import urllib.parse
import urllib.request

# Exit statuses of the nommer command.
OK, JOB_FAILED, REFUSED, UNREACHABLE = 0, 1, 2, 3


class CliError(Exception):
    """A failure to show as one line, and the exit status it means."""

    def __init__(self, message, status=REFUSED):
        super().__init__(message)
        self.status = status


class ApiClient:
    def __init__(self, url, token=None, timeout=30.0):
        # `127.0.0.1:8001` means what a person typing it means: plain http.
        if "://" not in url:
            url = "http://" + url
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def get(self, path, **query):
        query = {k: v for k, v in query.items() if v is not None}
        return self._call("GET", path + ("?" + urllib.parse.urlencode(query) if query else ""))

    def post(self, path, body=None):
        return self._call("POST", path, body)

    def _call(self, method, path, body=None):
        headers = {"Accept": "application/json", "User-Agent": "nommer-cli"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            raise self._refusal(e) from None
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, ConnectionRefusedError):
                raise CliError(f"no feeder at {self.url}: is `python -m nommer.feeder` running?",
                               UNREACHABLE) from None
            if isinstance(reason, socket.gaierror):
                raise CliError(f"no feeder at {self.url}: the host name is unknown", UNREACHABLE) from None
            raise CliError(f"cannot reach the feeder at {self.url}: {reason}", UNREACHABLE) from None
        except (TimeoutError, socket.timeout):
            raise CliError(f"the feeder at {self.url} did not answer within {self.timeout:g} s",
                           UNREACHABLE) from None
        except ValueError:
            raise CliError(f"{self.url} answered something that is not nommer's JSON API", UNREACHABLE) from None

    def _refusal(self, error):
        """The CliError of an HTTP error answer: the API's own message."""
        try:
            answer = json.loads(error.read() or b"null")
            message = answer["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {error.code} {error.reason}"
        if error.code in (401, 403):
            message += " (give a token with --token or NOMMER_TOKEN)"
        return CliError(message, REFUSED if error.code < 500 else UNREACHABLE)
