"""``s3://`` URIs: parsing, shape rules and redaction, without boto3.

Two forms are read: ``s3://bucket/key`` and media-nommer's
``s3://KEY_ID:SECRET@bucket/key``. A secret key may hold ``/`` and ``+``, which
a generic URL parser takes for the start of the path, so this module parses
s3 URIs itself. Keys are taken literally (as the AWS CLI does): no
percent-decoding, so ``s3://b/a%20b`` names the key ``a%20b``. Credentials may
be percent-encoded; they are decoded.

Bucket names follow S3's rules of today, or its legacy rules: a bucket made
in us-east-1 before March 2018 may hold upper-case letters and underscores
and be up to 255 characters long (media-nommer's own docs used ``nommer_in``).
Such a name is not a valid host name, so it is addressed path-style
(:attr:`S3Location.path_style`).
"""

import dataclasses
import ipaddress
import re
import urllib.parse

from nommer.core.errors import InvalidInput

# Bucket names never hold ":" or "@" and access key ids are alphanumeric, so a
# "KEY_ID:" right after "s3://" can only start credentials. AWS secret keys
# are base64 text and never hold "@".
_URI = re.compile(
    r"^s3://(?:(?P<key_id>[A-Za-z0-9%]+):(?P<secret>[^@]*)@)?"
    r"(?P<bucket>[^/@:]*)(?:/(?P<key>.*))?\Z",
    re.DOTALL,
)
_CREDENTIALS = re.compile(r"^[A-Za-z0-9%]+:")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
_LEGACY_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]\Z")
MAX_KEY_BYTES = 1024


@dataclasses.dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str
    key_id: str | None = dataclasses.field(default=None, repr=False)
    secret: str | None = dataclasses.field(default=None, repr=False)

    @property
    def path_style(self):
        """True when the bucket name is not a valid host name (a legacy
        us-east-1 name), so requests must name it in the path."""
        return not dns_compatible(self.bucket)

    @property
    def has_credentials(self):
        return self.key_id is not None

    def shown(self):
        """The URI without its credentials, for messages and logs."""
        creds = "***:***@" if self.has_credentials else ""
        return f"s3://{creds}{self.bucket}/{self.key}"


def is_s3(uri):
    return isinstance(uri, str) and uri[:5].lower() == "s3://"


def redact(uri):
    """The s3 URI with its access key id and secret replaced by ``***``."""
    match = _URI.match("s3://" + uri[5:])
    if match is not None:
        if match["key_id"] is None:
            return uri
        rest = match["bucket"] + ("" if match["key"] is None else "/" + match["key"])
        return f"s3://***:***@{rest}"
    # A malformed URI: hide too much rather than too little.
    rest = uri[5:]
    if _CREDENTIALS.match(rest):
        _, at, tail = rest.rpartition("@")
        return f"s3://***:***@{tail}" if at else "s3://***"
    host, slash, path = rest.partition("/")
    if "@" in host:
        return f"s3://***@{host.rpartition('@')[2]}{slash}{path}"
    return uri


def dns_compatible(bucket):
    """True when ``bucket`` follows S3's naming rules of today, which make
    it a valid host name (virtual-hosted addressing)."""
    return 3 <= len(bucket) <= 63 and _BUCKET.match(bucket) is not None and bucket_problem(bucket) is None


def bucket_problem(bucket):
    """Why ``bucket`` breaks S3's naming rules (today's, or the legacy ones
    of us-east-1), or None when it follows them."""
    if not 3 <= len(bucket) <= 255:
        return "must be 3 to 63 characters long (up to 255 for a legacy us-east-1 bucket)"
    if not _LEGACY_BUCKET.match(bucket):
        return ("may hold only lower-case letters, digits, dots and hyphens (also upper-case "
                "letters and underscores for a legacy us-east-1 bucket), and must begin and end "
                "with a letter or digit")
    if ".." in bucket or ".-" in bucket or "-." in bucket:
        return "may not hold two dots in a row, or a dot beside a hyphen"
    try:
        ipaddress.IPv4Address(bucket)
    except ValueError:
        pass
    else:
        return "may not look like an IP address"
    if bucket.startswith(("xn--", "sthree-")) or bucket.endswith(("-s3alias", "--ol-s3")):
        return "uses a prefix or suffix that S3 reserves"
    return None


def parse(uri, field="uri"):
    """The S3Location of ``uri``; InvalidInput naming ``field`` when its shape
    is wrong. Makes no network call."""
    if not is_s3(uri):
        raise InvalidInput(field, "must be an s3://bucket/key URI")
    match = _URI.match("s3://" + uri[5:])
    if match is None:
        raise InvalidInput(field, f"{redact(uri)!r} is not an s3://bucket/key URI")
    bucket, key = match["bucket"], match["key"]
    shown = redact(uri)
    if not bucket:
        raise InvalidInput(field, f"{shown!r} names no bucket; write s3://bucket/key")
    problem = bucket_problem(bucket)
    if problem:
        raise InvalidInput(field, f"bucket name {bucket!r} {problem}")
    if not key:
        raise InvalidInput(field, f"{shown!r} names no object key; write s3://{bucket}/path/file.mp4")
    if key.endswith("/"):
        raise InvalidInput(field, f"{shown!r} ends with '/', which names a folder; name a file")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidInput(field, f"the object key is longer than S3's {MAX_KEY_BYTES} bytes")
    key_id = secret = None
    if match["key_id"] is not None:
        key_id = urllib.parse.unquote(match["key_id"])
        secret = urllib.parse.unquote(match["secret"])
        if not key_id or not secret:
            raise InvalidInput(field, f"{shown!r}: credentials in an s3 URI are KEY_ID:SECRET@")
    return S3Location(bucket, key, key_id, secret)
