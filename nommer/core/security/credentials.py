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
# Query parameters whose name holds one of these words (in any case) carry a
# secret: tokens, keys, signatures of signed links (``X-Amz-Signature``,
# ``X-Amz-Credential``, ``AWSAccessKeyId``, ``client_secret``, ``jwt``...).
# A word inside a longer name counts too (``author`` for ``auth``): hiding a
# harmless value costs little, showing a secret costs a lot.
SECRET_WORDS = ("secret", "token", "key", "password", "passwd", "pwd", "session", "jwt",
                "signature", "sig", "credential", "auth")
_SECRET_NAME = re.compile("|".join(SECRET_WORDS), re.IGNORECASE)


def is_secret_param(name):
    """True when a query parameter named ``name`` (as written, percent-encoded
    or not) is taken for a secret."""
    return bool(_SECRET_NAME.search(urllib.parse.unquote_plus(name)))


_URI_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
_USERINFO = re.compile(r"(//)[^/?#\s@]*@")


def redact(uri, keep_user=True):
    """``uri`` with any password, secret query parameter or fragment replaced
    by ``***``.

    The user name stays (it tells which account) unless ``keep_user`` is
    false, as in refusals, which quote what was sent; what proves it goes.
    Any ``#fragment`` goes too: it never travels to a server, so one in a URI
    given to nommer is there to carry something (an access token, a key).
    """
    if not isinstance(uri, str):
        return uri
    if s3uri.is_s3(uri):
        # media-nommer's s3://KEY:SECRET@bucket/key: a secret key may hold
        # "/", which urlsplit takes for the path; and the key id goes too.
        return s3uri.redact(uri)
    if "@" not in uri and "?" not in uri and "#" not in uri:
        return uri  # no user info, query or fragment: nothing to hide (most URIs)
    try:
        parts = urllib.parse.urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        # Not parseable as a URL: hide anything that looks like user info,
        # and everything after a "?" or "#".
        head = _USERINFO.sub(r"\1" + HIDDEN + "@", uri)
        cut = min((i for i in (head.find("?"), head.find("#")) if i >= 0), default=-1)
        return head if cut < 0 else head[:cut + 1] + HIDDEN
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        keep = keep_user and has_password and user
        netloc = f"{user}:{HIDDEN}@{host}" if keep else f"{HIDDEN}@{host}"
    query = _redact_query(parts.query)
    fragment = HIDDEN if parts.fragment else parts.fragment
    if netloc == parts.netloc and query == parts.query and fragment == parts.fragment:
        return uri
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query, fragment=fragment))


def shown(uri):
    """``uri`` as a refusal may quote it: no user name, password, secret
    query parameter or fragment."""
    return redact(uri, keep_user=False)


def _redact_query(query):
    if not query:
        return query
    pairs = []
    for item in query.split("&"):
        name, eq, _ = item.partition("=")
        pairs.append(f"{name}={HIDDEN}" if eq and is_secret_param(name) else item)
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


def scrub(text, keep_user=True):
    """``text`` with every URI in it redacted (for logs, errors, job details);
    without ``keep_user``, user names go too (for refusals)."""
    if not isinstance(text, str) or "://" not in text:
        return text
    return _URI_IN_TEXT.sub(lambda m: redact(m.group(0), keep_user), text)


# Values scrub_deep keeps as they are, without a look inside.
_PLAIN = frozenset({int, float, bool, type(None)})


def scrub_deep(value):
    """``value`` (str, dict, list or tuple, nested) with every string scrubbed."""
    kind = type(value)
    # Dicts and lists first, and their numbers and strings without a URI
    # kept without a call each: a webhook's job holds dozens of them, and
    # each webhook body is scrubbed whole.
    if kind is dict:
        return {k: v if type(v) in _PLAIN or (type(v) is str and "://" not in v) else scrub_deep(v)
                for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _PLAIN or (type(v) is str and "://" not in v) else scrub_deep(v)
                for v in value]
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
