"""AWS's XML answers: a ``<ActionResponse>`` with its result and
ResponseMetadata, or the ``<Response><Errors>`` document of a refusal."""

import base64
import re
from xml.sax.saxutils import escape

NAMESPACE = "http://sdb.amazonaws.com/doc/2009-04-15/"
BOX_USAGE = "0.0000219907"

# Characters XML 1.0 cannot carry: SimpleDB sends such a name or value
# base64-encoded, marked with encoding="base64".
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def text(tag, value):
    """``<tag>value</tag>``, escaped; base64 with ``encoding="base64"`` when the
    value holds characters XML cannot carry."""
    if _NOT_XML.search(value):
        encoded = base64.b64encode(value.encode("utf-8", "surrogatepass")).decode("ascii")
        return f'<{tag} encoding="base64">{encoded}</{tag}>'
    # A bare carriage return would reach the client as a line feed: XML parsers
    # normalise line ends, so it travels as a character reference.
    return f"<{tag}>{escape(value, {chr(13): '&#13;'})}</{tag}>"


def attribute(name, value):
    return f"<Attribute>{text('Name', name)}{text('Value', value)}</Attribute>"


def item(name, pairs):
    return f"<Item>{text('Name', name)}{''.join(attribute(a, v) for a, v in pairs)}</Item>"


def success(action, result, request_id):
    """The answer to ``action``; ``result`` is the XML inside its
    ``<ActionResult>`` element, or None for actions that answer none."""
    body = "" if result is None else f"<{action}Result>{result}</{action}Result>"
    return (f'<?xml version="1.0"?>\n<{action}Response xmlns="{NAMESPACE}">{body}'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId>"
            f"<BoxUsage>{BOX_USAGE}</BoxUsage></ResponseMetadata>"
            f"</{action}Response>").encode()


def error(error, request_id):
    """The error document for an :class:`~.errors.SdbError`."""
    return (f'<?xml version="1.0"?>\n<Response><Errors><Error>'
            f"{text('Code', error.code)}{text('Message', error.message)}"
            f"<BoxUsage>{BOX_USAGE}</BoxUsage></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>").encode()
