"""Reading a request body as JSON whatever its Content-Type says.

media-nommer's client sent its JSON with urllib2's default form Content-Type,
so the header is ignored: the bytes decide.
"""

from nommer.core.errors import InvalidInput
from nommer.http.validation import parse_json


def raw_body(request):
    """The body's bytes; Werkzeug refuses one above MAX_CONTENT_LENGTH with 413."""
    # parse_form_data=False: a form Content-Type must not make Flask eat the
    # body as form fields before we read it.
    return nonempty(request.get_data(cache=True, parse_form_data=False))


def nonempty(raw):
    """``raw``, unless it holds nothing but white space."""
    if not raw.strip():
        raise InvalidInput("body", "is empty; send a JSON object")
    return raw


def parse_body(request, model):
    """The ``model`` instance of the request's JSON body; InvalidInput naming
    ``body`` when it is not a JSON object, or the field that is wrong."""
    return parse_json(model, raw_body(request))
