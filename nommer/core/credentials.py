"""Credentials inside URIs: hidden wherever a URI is shown, encrypted where
a job is stored.

media-nommer's users put keys in their URIs (``s3://KEY:SECRET@bucket/key``,
``https://user:password@host/...``, signed links with ``?X-Amz-Signature=``).
nommer keeps such a URI whole only in memory, where a part needs it to
connect. The job record holds the URI with its secrets replaced by ``***``,
beside the real URIs encrypted with the ``secret_key`` setting (Fernet), so
that an API answer, a webhook, a log line or a copy of the store shows no
secret even where a code path forgets to hide it.
"""

import json
import re
import urllib.parse

from nommer.core import s3uri
from nommer.core.errors import InvalidInput, JobFailed

HIDDEN = "***"
# Query parameters that carry a secret: signed-link signatures and tokens.
SECRET_PARAMS = frozenset({
    "x-amz-signature", "x-amz-credential", "x-amz-security-token", "awsaccesskeyid",
    "signature", "sig", "x-goog-signature", "x-goog-credential", "token",
    "access_token", "auth", "password", "passwd", "secret", "api_key", "apikey", "key",
})
_URI_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
_USERINFO = re.compile(r"(//)[^/?#\s@]*@")


def redact(uri):
    """``uri`` with any password or secret query parameter replaced by ``***``.

    The user name stays (it tells which account); what proves it goes.
    """
    if not isinstance(uri, str):
        return uri
    if s3uri.is_s3(uri):
        # media-nommer's s3://KEY:SECRET@bucket/key: a secret key may hold
        # "/", which urlsplit takes for the path; and the key id goes too.
        return s3uri.redact(uri)
    try:
        parts = urllib.parse.urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        # Not parseable as a URL: hide anything that looks like user info.
        return _USERINFO.sub(r"\1" + HIDDEN + "@", uri)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:{HIDDEN}@{host}" if has_password and user else f"{HIDDEN}@{host}"
    query = _redact_query(parts.query)
    if netloc == parts.netloc and query == parts.query:
        return uri
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))


def _redact_query(query):
    if not query:
        return query
    pairs = []
    for item in query.split("&"):
        name, eq, _ = item.partition("=")
        secret = urllib.parse.unquote_plus(name).lower() in SECRET_PARAMS
        pairs.append(f"{name}={HIDDEN}" if secret and eq else item)
    return "&".join(pairs)


def basic_auth(url):
    """``(url without user info, "Basic ..." header value or None)``: user
    info in an http(s) URL becomes HTTP basic authentication."""
    import base64

    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    bare = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    return bare, "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def carries_secret(uri):
    """True when ``uri`` holds user info or a secret query parameter."""
    return isinstance(uri, str) and redact(uri) != uri


def scrub(text):
    """``text`` with every URI in it redacted (for logs, errors, job details)."""
    if not isinstance(text, str) or "://" not in text:
        return text
    return _URI_IN_TEXT.sub(lambda m: redact(m.group(0)), text)


def scrub_deep(value):
    """``value`` (str, dict, list or tuple, nested) with every string scrubbed."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_deep(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub_deep(v) for v in value)
    return value


class SecretBox:
    """Fernet encryption with the keys of the ``secret_key`` setting; the
    first key encrypts, any of them decrypts (so a key can be replaced)."""

    def __init__(self, keys_text):
        from cryptography.fernet import Fernet, MultiFernet

        keys = [k.strip() for k in keys_text.split(",") if k.strip()]
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def from_config(cls, config):
        """The box of ``config.secret_key``, or None when it is empty."""
        return cls(config.secret_key) if config.secret_key else None

    def seal(self, data):
        return self._fernet.encrypt(json.dumps(data).encode()).decode()

    def open(self, token):
        from cryptography.fernet import InvalidToken

        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise ValueError("not sealed with any key of the secret_key setting") from None


def refuse_without_key(box, uris):
    """Raise InvalidInput naming the first field whose URI carries a secret
    when there is no key to store it encrypted. ``uris`` is [(field, uri)]."""
    if box is not None:
        return
    for field, uri in uris:
        if carries_secret(uri):
            raise InvalidInput(
                field,
                "carries credentials (user:password@ or a signature/token in the query); "
                "nommer stores such URIs only encrypted and no secret_key is configured. "
                "Set secret_key (see docs/security.md) or give the machines their own access "
                "(an instance profile, a readable folder) instead",
                code="CREDENTIALS_NEED_KEY",
            )


def seal_uris(box, source, outputs, notify_url):
    """What to store for a job's URIs: ``(source, outputs, notify_url, sealed)``
    with secrets redacted, and ``sealed`` the encrypted originals (None when
    no URI carries a secret)."""
    destinations = [o.get("destination") for o in outputs]
    if not any(carries_secret(u) for u in [source, notify_url, *destinations]):
        return source, outputs, notify_url, None
    sealed = box.seal({"source": source, "destinations": destinations, "notify_url": notify_url})
    shown = [{**o, "destination": redact(o.get("destination"))} for o in outputs]
    return redact(source), shown, redact(notify_url), sealed


def real_uris(box, job):
    """``{"source", "destinations", "notify_url"}`` of ``job`` as submitted.

    Raises JobFailed (code SECRET_KEY) when the job's URIs are sealed and
    ``box`` cannot open them.
    """
    if not job.sealed:
        return {"source": job.source,
                "destinations": [o.get("destination") for o in job.outputs],
                "notify_url": job.notify_url}
    if box is None:
        raise JobFailed("the job's URIs are encrypted and this machine has no secret_key setting",
                        code="SECRET_KEY")
    try:
        return box.open(job.sealed)
    except ValueError as e:
        raise JobFailed(f"the job's URIs cannot be decrypted: {e}", code="SECRET_KEY") from None
