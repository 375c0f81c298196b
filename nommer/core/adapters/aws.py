"""boto3 clients as every AWS adapter makes them, and reading their errors.

Endpoints and credentials come from boto3's own conventions (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_SQS``..., the default credential chain); nommer adds no
parallel mechanism. Only the region may come from the ``aws_region`` setting.
"""

import boto3
import botocore.config
import botocore.exceptions

from nommer.core.errors import ConfigError

# botocore's "standard" mode retries throttling, 5xx and connection errors
# with exponential backoff and jitter.
RETRIES = {"mode": "standard", "max_attempts": 5}

TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
    "RequestLimitExceeded", "SlowDown", "RequestTimeout", "RequestTimeoutException",
    "InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable",
    "RequestThrottledException", "TooManyRequestsException", "PriorRequestNotComplete",
    "EC2ThrottledException", "BandwidthLimitExceeded",
    "ProvisionedThroughputExceededException", "InternalServerError",
})


def client(service, region=None, *, key_id=None, secret=None, read_timeout=60,
           retries=None, **config):
    """A new client of ``service``. ``key_id``/``secret`` are for media-nommer's
    credentials-in-URI only; otherwise boto3's default chain applies."""
    session = boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key=secret)
    try:
        return session.client(
            service,
            region_name=region or None,
            config=botocore.config.Config(
                retries=retries or RETRIES, connect_timeout=10, read_timeout=read_timeout,
                **config,
            ),
        )
    except botocore.exceptions.NoRegionError:
        raise ConfigError("setting 'aws_region': no AWS region is set "
                          "(set aws_region, or AWS_DEFAULT_REGION)") from None


def error_code(error):
    """The error code of a botocore ClientError, without SQS's legacy prefix."""
    info = getattr(error, "response", {}).get("Error", {})
    code = info.get("QueryErrorCode") or info.get("Code") or ""
    return code.removeprefix("AWS.SimpleQueueService.")


def http_status(error):
    return getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")


def is_transient(error):
    """True for a failure worth trying again later: throttling, a 5xx, a
    broken connection or a timeout."""
    if isinstance(error, (botocore.exceptions.ConnectionError,
                          botocore.exceptions.HTTPClientError,
                          botocore.exceptions.ReadTimeoutError,
                          botocore.exceptions.IncompleteReadError,
                          botocore.exceptions.ResponseStreamingError)):
        return True
    if isinstance(error, botocore.exceptions.ClientError):
        status = http_status(error) or 0
        return error_code(error) in TRANSIENT_CODES or status >= 500 or status == 429
    return False


def describe(error):
    """A short readable reason of a botocore error (never a credential: AWS
    error messages name no secret, and URIs are not part of them)."""
    if isinstance(error, botocore.exceptions.ClientError):
        info = error.response.get("Error", {})
        code = error_code(error) or str(http_status(error) or "error")
        message = info.get("Message") or ""
        return f"{code}: {message}" if message else code
    return f"{type(error).__name__}: {error}"
