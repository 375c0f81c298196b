"""ffmpeg's own rules for splitting text into keys and values.

Codec parameter lists (``-x264-params keyint=60:bframes=2``) and filter
arguments are split by ffmpeg with ``av_get_token`` (libavutil/avstring.c):
a backslash keeps the next character whatever it is, text between single
quotes is kept as it is (a backslash inside quotes is plain text), blanks
before a token and unquoted, unescaped blanks after it are dropped. A check
that reads the text any other way sees other keys than ffmpeg does
(``dump_yuv=\\/abs/path`` has no "/" after "=" to a naive reader), so every
check of such text goes through these functions.
"""

WHITESPACE = " \n\t\r"


def get_token(text, pos, terms):
    """``av_get_token``: the token of ``text`` starting at ``pos`` up to the
    first unquoted, unescaped character of ``terms``; returns (token, the
    position of that character or the end)."""
    pos = _skip_blanks(text, pos)
    out = []
    end = 0  # length of ``out`` that trailing-blank trimming may not cut into
    while pos < len(text) and text[pos] not in terms:
        ch = text[pos]
        pos += 1
        if ch == "\\" and pos < len(text):
            out.append(text[pos])
            pos += 1
            end = len(out)
        elif ch == "'":
            while pos < len(text) and text[pos] != "'":
                out.append(text[pos])
                pos += 1
            if pos < len(text):
                pos += 1
                end = len(out)
        else:
            out.append(ch)
    while len(out) > end and out[-1] in WHITESPACE:
        out.pop()
    return "".join(out), pos


def _skip_blanks(text, pos):
    while pos < len(text) and text[pos] in WHITESPACE:
        pos += 1
    return pos


class Malformed(ValueError):
    """Text that ffmpeg itself would refuse to split; the message says why."""


def parse_dict(text, key_value_sep="=", pairs_sep=":"):
    """``av_dict_parse_string``: the (key, value) pairs of ``text`` in order,
    exactly as ffmpeg splits them. ffmpeg refuses a pair without "=" or with an
    empty key or value; so does this (:class:`Malformed`)."""
    pairs = []
    pos = 0
    while pos < len(text):
        key, pos = get_token(text, pos, key_value_sep)
        if not key or pos >= len(text):
            raise Malformed(f"{key or text[pos:]!r} is not key{key_value_sep}value")
        value, pos = get_token(text, pos + 1, pairs_sep)
        if not value:
            raise Malformed(f"{key!r} has an empty value")
        pairs.append((key, value))
        if pos < len(text):
            pos += 1
    return pairs


# The characters a filter option's name may have (libavutil/opt.c, get_key).
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./")


def filter_options(args):
    """The options of a filter's argument text as the filtergraph parser hands
    them to the filter: a list of (name or None for a positional value, value).

    ``args`` is the text after "name=" in the graph, quotes and escapes
    kept (as :func:`filtergraph.split_filters` gives it). ffmpeg unescapes it
    once as part of the graph, then splits it at ":" into ``key=value`` or
    positional values, unescaping each value again.
    """
    text, _ = get_token(args, 0, "[],;")
    options = []
    pos = 0
    while pos < len(text):
        # libavutil/opt.c, get_key: blanks, the name, blanks, "=".
        key_start = _skip_blanks(text, pos)
        key_end = key_start
        while key_end < len(text) and text[key_end] in _KEY_CHARS:
            key_end += 1
        eq = _skip_blanks(text, key_end)
        if eq < len(text) and text[eq] == "=":
            name = text[key_start:key_end]
            value, pos = get_token(text, eq + 1, ":")
        else:
            name = None
            value, pos = get_token(text, pos, ":")
        options.append((name, value))
        if pos < len(text):
            pos += 1
    return options
