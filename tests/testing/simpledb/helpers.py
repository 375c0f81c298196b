"""Helpers shared by the SimpleDB server's tests."""

import botocore.exceptions
import pytest


def refusal(call, *args, **kwargs):
    """The ``(code, HTTP status, message)`` of the ClientError ``call`` raises."""
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(*args, **kwargs)
    response = raised.value.response
    return (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"],
            response["Error"]["Message"])


def attributes(sdb, domain, item, **kwargs):
    """The item's attributes as ``{name: sorted values}``."""
    found = {}
    for pair in sdb.get_attributes(DomainName=domain, ItemName=item,
                                   ConsistentRead=True, **kwargs).get("Attributes", []):
        found.setdefault(pair["Name"], []).append(pair["Value"])
    return {name: sorted(values) for name, values in found.items()}


def put(sdb, domain, item, replace=False, **values):
    """Put ``name=value`` (or ``name=[values]``) pairs on ``item``."""
    pairs = [{"Name": name, "Value": value, "Replace": replace}
             for name, given in values.items()
             for value in (given if isinstance(given, list) else [given])]
    sdb.put_attributes(DomainName=domain, ItemName=item, Attributes=pairs)


def post(url, **form):
    """POST ``form`` as a client that boto3 cannot imitate would (malformed
    values, unknown actions); returns ``(HTTP status, Code, Message)``."""
    import urllib.error
    import urllib.parse
    import urllib.request
    from xml.etree import ElementTree

    data = urllib.parse.urlencode(form).encode("ascii")
    try:
        with urllib.request.urlopen(url, data=data, timeout=10) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    root = ElementTree.fromstring(body)
    return status, root.findtext("Errors/Error/Code"), root.findtext("Errors/Error/Message")
