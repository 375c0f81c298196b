"""How every video preset sizes its picture.

A preset named for a size ("720p") bounds the picture's *short side*: the
height of a landscape picture, the width of a portrait one. Sizes are those of
the displayed picture (pixel aspect applied), the result has square pixels,
both sides are even (4:2:0 chroma needs it) and nothing is ever made larger
than the source: a 640x360 source stays 640x360 under a 1080p preset.

:func:`fit_filter` is the ffmpeg filter that does it; :func:`fitted_size` is
the same arithmetic in Python, for choosing ladder renditions before ffmpeg
runs.
"""

import math


def fit_filter(short_side):
    """The ``-vf`` text that fits a picture to at most ``short_side`` on its short side."""
    n = int(short_side)
    # In ffmpeg's scale expressions dar = iw*sar/ih: >= 1 is landscape (or
    # square). The short side is capped, then the long side follows the
    # display aspect, rounded to even; setsar=1 makes the pixels square.
    landscape_h = f"min({n},trunc(ih/2)*2)"
    portrait_w = f"min({n},trunc(iw*sar/2)*2)"
    width = f"if(gte(dar,1),2*round({landscape_h}*dar/2),{portrait_w})"
    height = f"if(gte(dar,1),{landscape_h},2*round({portrait_w}/dar/2))"
    return f"scale=w='{width}':h='{height}',setsar=1"


def display_size(stream):
    """(width, height) of a probed video stream as displayed, or None."""
    width, height = stream.get("width"), stream.get("height")
    if not width or not height:
        return None
    sar = _ratio(stream.get("sar")) or 1.0
    return width * sar, float(height)


def fitted_size(stream, short_side):
    """(width, height) :func:`fit_filter` makes of the probed ``stream``, or None."""
    size = display_size(stream)
    if size is None:
        return None
    dw, dh = size
    dar = dw / dh
    if dar >= 1:
        h = min(short_side, math.trunc(dh / 2) * 2)
        return _even_round(h * dar), h
    w = min(short_side, math.trunc(dw / 2) * 2)
    return w, _even_round(w / dar)


def short_side(stream):
    """The displayed short side of a probed video stream (0 when unknown)."""
    size = display_size(stream)
    return int(min(size)) if size else 0


def _even_round(value):
    # ffmpeg's round() takes halves away from zero; Python's round() to even.
    return 2 * math.floor(value / 2 + 0.5)


def _ratio(text):
    try:
        a, b = (int(x) for x in str(text).split(":"))
        return a / b if a > 0 and b > 0 else None
    except (ValueError, TypeError):
        return None
