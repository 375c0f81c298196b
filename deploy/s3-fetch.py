#!/usr/bin/env python3
"""Download one S3 object with nothing but Python's standard library.

    python3 s3-fetch.py s3://BUCKET/KEY DEST

An encoder instance runs this at boot, before nommer (and boto3) are on it,
to fetch its wheelhouse. Credentials: AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) when set, else the instance
profile's through IMDSv2 (NOMMER_IMDS_ENDPOINT, default
http://169.254.169.254). Region: NOMMER_AWS_REGION, AWS_REGION,
AWS_DEFAULT_REGION, else the instance's. Endpoint: AWS_ENDPOINT_URL_S3 or
AWS_ENDPOINT_URL (path-style), else S3's regional endpoint. The request is
signed with Signature Version 4. Runs on Python 3.9 and later (Amazon Linux
2023's own python3).
"""

import datetime
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
ATTEMPTS = 8  # an instance profile's credentials can take a few seconds to appear
CHUNK = 1024 * 1024


class FetchError(Exception):
    pass


def _imds(path, token=None, method="GET", headers=None):
    base = os.environ.get("NOMMER_IMDS_ENDPOINT", "http://169.254.169.254").rstrip("/")
    request = urllib.request.Request(base + path, method=method, headers=headers or {})
    if token:
        request.add_header("X-aws-ec2-metadata-token", token)
    with urllib.request.urlopen(request, timeout=5) as answer:
        return answer.read().decode()


def _imds_token():
    return _imds("/latest/api/token", method="PUT",
                 headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"})


def credentials():
    """``(key id, secret, session token or None)``."""
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return key, secret, os.environ.get("AWS_SESSION_TOKEN") or None
    token = _imds_token()
    role = _imds("/latest/meta-data/iam/security-credentials/", token).split()[0]
    found = json.loads(_imds("/latest/meta-data/iam/security-credentials/" + role, token))
    return found["AccessKeyId"], found["SecretAccessKey"], found.get("Token")


def region():
    for name in ("NOMMER_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(name):
            return os.environ[name]
    return _imds("/latest/meta-data/placement/region", _imds_token())


def object_url(bucket, key, region_name):
    """``(url, host, canonical path)`` of the object."""
    path_key = urllib.parse.quote(key, safe="/~")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urllib.parse.urlsplit(endpoint.rstrip("/"))
        path = f"{parts.path}/{urllib.parse.quote(bucket)}/{path_key}"
        return f"{parts.scheme}://{parts.netloc}{path}", parts.netloc, path
    if "." in bucket:
        host = f"s3.{region_name}.amazonaws.com"
        path = f"/{bucket}/{path_key}"
    else:
        host = f"{bucket}.s3.{region_name}.amazonaws.com"
        path = f"/{path_key}"
    return f"https://{host}{path}", host, path


def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signed_headers(host, path, region_name, creds, now):
    """The headers of a SigV4-signed GET of ``path`` on ``host``."""
    key, secret, session = creds
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    headers = {"host": host, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": stamp}
    if session:
        headers["x-amz-security-token"] = session
    names = sorted(headers)
    canonical = "\n".join(["GET", path, "",
                           *[f"{name}:{headers[name].strip()}" for name in names], "",
                           ";".join(names), EMPTY_SHA256])
    scope = f"{day}/{region_name}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    signing_key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), day), region_name), "s3"),
                        "aws4_request")
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={key}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return headers


def fetch(uri, dest):
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc or not parts.path.strip("/"):
        raise FetchError(f"not an s3://BUCKET/KEY URI: {uri!r}")
    bucket, key = parts.netloc, parts.path.lstrip("/")
    last = None
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(min(2 ** attempt, 20))
        try:
            # Asked again each time: a new instance profile's credentials can
            # be missing (IMDS answers 404) for the first seconds.
            region_name = region()
            creds = credentials()
        except (OSError, ValueError, KeyError, IndexError) as e:
            last = f"no credentials or region from the environment or IMDS: {type(e).__name__}: {e}"
            continue
        try:
            url, host, path = object_url(bucket, key, region_name)
            headers = signed_headers(host, path, region_name, creds,
                                     datetime.datetime.now(datetime.timezone.utc))
            headers.pop("host")  # urllib sends the same Host itself
            request = urllib.request.Request(url, headers=headers)
            partial = dest + ".part"
            with urllib.request.urlopen(request, timeout=60) as answer, open(partial, "wb") as out:
                while True:
                    chunk = answer.read(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
            os.replace(partial, dest)
            return
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code}: {e.read(300).decode(errors='replace')}"
            if e.code == 404:  # nothing there: `nommer aws publish` was not run
                break
        except (OSError, ValueError, KeyError, IndexError) as e:
            last = f"{type(e).__name__}: {e}"
    raise FetchError(f"cannot download {uri}: {last}")


def main(argv):
    if len(argv) != 3:
        print("usage: s3-fetch.py s3://BUCKET/KEY DEST", file=sys.stderr)
        return 2
    try:
        fetch(argv[1], argv[2])
    except FetchError as e:
        print(f"s3-fetch: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
