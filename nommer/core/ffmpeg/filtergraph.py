"""Just enough of ffmpeg's filtergraph syntax to see which filters a graph uses.

``split_filters("yadif,scale='640:trunc(ow/a/2)*2'")`` gives the filters with
their arguments and where each sits in the text, honouring ffmpeg's quoting
(``'...'``) and escaping (``\\``) so that a comma inside an expression does
not end a filter.
"""

import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class Filter:
    name: str  # without any "@instance" suffix
    args: str  # the text after "=", quotes kept; "" when there is none
    args_start: int  # where args begins in the graph text
    end: int  # where this filter's text ends


_LABELS = re.compile(r"\s*(\[[^\]]*\]\s*)*")


def split_filters(graph):
    """Every filter of ``graph`` in order, labels left out."""
    filters = []
    start = 0
    for end in _separators(graph) + [len(graph)]:
        filters.append(_parse_one(graph, start, end))
        start = end + 1
    return filters


def _separators(graph):
    """Offsets of the commas and semicolons that separate filters."""
    found = []
    quoted = escaped = False
    for i, ch in enumerate(graph):
        if escaped:
            escaped = False
        elif quoted:
            # As in ffmpeg's av_get_token: inside quotes a backslash is plain
            # text and cannot keep the closing quote from closing.
            quoted = ch != "'"
        elif ch == "\\":
            escaped = True
        elif ch == "'":
            quoted = True
        elif ch in ",;":
            found.append(i)
    return found


def _parse_one(graph, start, end):
    pos = _LABELS.match(graph, start, end).end()
    # Output labels ("...[out]") end the text; they cannot hold '='.
    tail = re.search(r"(\s*\[[^\]'=]*\])+\s*$", graph[pos:end])
    stop = pos + tail.start() if tail else end
    head, eq, _ = graph[pos:stop].partition("=")
    name = head.strip().split("@", 1)[0]
    args_start = pos + len(head) + 1 if eq else stop
    return Filter(name=name, args=graph[args_start:stop], args_start=args_start, end=stop)
