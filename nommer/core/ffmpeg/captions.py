"""Subtitles of the source carried into the outputs.

Text subtitle streams (SubRip, WebVTT, ASS, MP4's mov_text...) go:

- into an MP4 output as mov_text streams, each with its language tag;
- beside an HLS, CMAF or DASH output as WebVTT sidecars, one file per
  stream, named ``subs-N-LANG.vtt`` (N counts from 0, LANG is the stream's
  language tag or ``und``), which the manifests then list: an
  ``EXT-X-MEDIA:TYPE=SUBTITLES`` rendition (with a one-segment subtitle
  playlist ``subs-N-LANG.m3u8``) in the HLS master playlist, and an
  AdaptationSet of ``text/vtt`` in the DASH manifest.

Picture subtitles (DVD, Blu-ray PGS, DVB) cannot become text and are left
out. The sidecars are made in the same ffmpeg run as the renditions; the
manifests are completed after it (:func:`add_to_master`, :func:`add_to_mpd`).
"""

import math
import os
import re

from nommer.core.ffmpeg.sources import CAPTION_FORMATS, CAPTION_GUARD

# ffmpeg decoder names of text subtitles: each converts to WebVTT and mov_text.
TEXT_CODECS = frozenset({
    "subrip", "srt", "webvtt", "ass", "ssa", "mov_text", "text", "subviewer", "subviewer1",
    "microdvd", "mpl2", "jacosub", "realtext", "sami", "stl", "vplayer", "pjs",
})
GROUP = "subs"
_SIDECAR = re.compile(r"^subs-(?P<n>\d+)-(?P<language>[A-Za-z0-9-]+)\.vtt$")


def text_subtitles(probe):
    """[(n, language)]: each text subtitle stream of the probed source, by
    its rank ``n`` among the source's subtitle streams (ffmpeg's ``0:s:n``),
    with its language tag or ``und``."""
    streams = [s for s in (probe or {}).get("streams", ()) if s["type"] == "subtitle"]
    return [(n, s.get("language") or "und") for n, s in enumerate(streams) if s.get("codec") in TEXT_CODECS]


def mp4_args(probe, extra=()):
    """Output arguments that carry the source's text subtitles, and the
    caption files ``extra`` [(input number, language)], into an MP4."""
    subtitles = text_subtitles(probe)
    if not subtitles and not extra:
        return []
    args = []
    for n, _ in subtitles:
        args += ["-map", f"0:s:{n}"]
    for k, (number, language) in enumerate(extra, start=len(subtitles)):
        args += ["-map", f"{number}:s:0", f"-metadata:s:s:{k}", f"language={mp4_language(language)}"]
    # Not shown unless chosen: ffmpeg would mark the first one default.
    return args + ["-c:s", "mov_text", "-disposition:s", "0"]


# ISO 639-1 → ISO 639-2/B, for the languages MP4 files are most often
# subtitled in: an MP4 stream's language is a three-letter code.
_TWO_TO_THREE = dict(pair.split(":") for pair in (
    "en:eng de:ger fr:fre es:spa it:ita pt:por nl:dut sv:swe no:nor nb:nob nn:nno da:dan fi:fin "
    "is:ice pl:pol cs:cze sk:slo sl:slv hu:hun ro:rum bg:bul hr:hrv sr:srp bs:bos uk:ukr ru:rus "
    "be:bel el:gre tr:tur ar:ara he:heb fa:per hi:hin bn:ben ur:urd pa:pan ta:tam te:tel mr:mar "
    "th:tha vi:vie id:ind ms:may zh:chi ja:jpn ko:kor ca:cat eu:baq gl:glg et:est lv:lav lt:lit "
    "ga:gle cy:wel sq:alb mk:mac hy:arm ka:geo af:afr sw:swa tl:tgl la:lat eo:epo"
).split())


def mp4_language(tag):
    """The three-letter code an MP4 stream can hold for the BCP 47 ``tag``
    (its language subtag): as it is when it has three letters, from ISO
    639-1 for the common two-letter ones, ``und`` otherwise."""
    primary = tag.split("-", 1)[0].lower()
    if len(primary) == 3:
        return primary
    return _TWO_TO_THREE.get(primary, "und")


def sidecar_name(k, language):
    return f"subs-{k}-{language}.vtt"


def sidecar_args(folder, probe, extra=()):
    """Output arguments of one WebVTT file per text subtitle stream of the
    source, then per caption file of ``extra`` [(input number, language)],
    in ``folder``.

    Each is an output of its own, so these go before the output they accompany.
    """
    streams = [(f"0:s:{n}", language) for n, language in text_subtitles(probe)]
    streams += [(f"{number}:s:0", language) for number, language in extra]
    args = []
    for k, (stream, language) in enumerate(streams):
        args += ["-map", stream, "-c:s", "webvtt", "-f", "webvtt",
                 os.path.join(folder, sidecar_name(k, language))]
    return args


def sidecars(folder):
    """[(file name, language)] of the WebVTT sidecars made in ``folder``, in order."""
    found = []
    for name in os.listdir(folder):
        m = _SIDECAR.match(name)
        if m:
            found.append((int(m["n"]), name, m["language"]))
    return [(name, language) for _, name, language in sorted(found)]


def playlist_name(sidecar):
    return sidecar[: -len(".vtt")] + ".m3u8"


def add_timestamp_map(folder, start):
    """Tie the sidecars of ``folder`` to MPEG-TS segments whose first frame
    (the source's time 0) is at ``start`` seconds: an HLS player places a
    WebVTT cue by its ``X-TIMESTAMP-MAP`` (without one it takes cue time 0
    for MPEG-TS time 0, and ffmpeg's segments start about 1.4 s later)."""
    if start is None:
        return
    header = f"X-TIMESTAMP-MAP=MPEGTS:{round(start * 90000)},LOCAL:00:00:00.000"
    for name, _ in sidecars(folder):
        path = os.path.join(folder, name)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        first, _, rest = text.partition("\n")
        if not first.startswith("WEBVTT") or rest.startswith("X-TIMESTAMP-MAP="):
            continue
        _write(path, f"{first}\n{header}\n{rest}")


def add_to_master(folder, master_name, duration):
    """List the sidecars of ``folder`` in its HLS master playlist: a subtitle
    playlist each (one segment of ``duration`` seconds, the whole file) and
    an ``EXT-X-MEDIA:TYPE=SUBTITLES`` rendition in a group every variant
    names. Returns the names of the playlists written."""
    found = sidecars(folder)
    if not found:
        return []
    seconds = max(float(duration or 0), 0.001)
    written = []
    for name, _ in found:
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{math.ceil(seconds)}",
                 "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD",
                 f"#EXTINF:{seconds:.3f},", name, "#EXT-X-ENDLIST"]
        _write(os.path.join(folder, playlist_name(name)), "\n".join(lines) + "\n")
        written.append(playlist_name(name))
    master = os.path.join(folder, master_name)
    with open(master, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if any(line.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES") for line in lines):
        return written  # listed already
    media = [
        f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{GROUP}",NAME="{language}-{k}",LANGUAGE="{language}",'
        f'DEFAULT=NO,AUTOSELECT=YES,URI="{playlist_name(name)}"'
        for k, (name, language) in enumerate(found)
    ]
    out, placed = [], False
    for line in lines:
        if line.startswith("#EXT-X-STREAM-INF:"):
            if not placed:
                out += media
                placed = True
            if "SUBTITLES=" not in line:
                line += f',SUBTITLES="{GROUP}"'
        out.append(line)
    if not placed:
        out += media
    _write(master, "\n".join(out) + "\n")
    return written


def add_to_mpd(folder, mpd_name):
    """Add an AdaptationSet of ``text/vtt`` per sidecar of ``folder`` to the
    DASH manifest ``mpd_name`` (its last Period). Returns how many."""
    found = sidecars(folder)
    if not found:
        return 0
    path = os.path.join(folder, mpd_name)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if 'mimeType="text/vtt"' in text:
        return 0  # listed already
    taken = [int(i) for i in re.findall(r'<AdaptationSet id="(\d+)"', text)]
    first = max(taken, default=-1) + 1
    sets = "".join(
        f'\t\t<AdaptationSet id="{first + k}" contentType="text" mimeType="text/vtt" lang="{language}">\n'
        '\t\t\t<Role schemeIdUri="urn:mpeg:dash:role:2011" value="subtitle" />\n'
        f'\t\t\t<Representation id="subs-{k}" bandwidth="256">\n'
        f"\t\t\t\t<BaseURL>{name}</BaseURL>\n"
        "\t\t\t</Representation>\n"
        "\t\t</AdaptationSet>\n"
        for k, (name, language) in enumerate(found)
    )
    end = text.rfind("</Period>")
    if end < 0:
        raise ValueError(f"{mpd_name} has no Period to add subtitles to")
    line_start = text.rfind("\n", 0, end) + 1
    _write(path, text[:line_start] + sets + text[line_start:])
    return len(found)


def _write(path, text):
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


# -- captions from a URI (an output's ``captions`` option) ------------------------

#: The most sidecar caption files one output may add.
MAX_CAPTIONS = 16
#: The largest caption file nommer reads: subtitles are small text.
MAX_CAPTION_BYTES = 10 * 1024 * 1024
# A BCP 47 tag of the common shape: a 2 or 3 letter language, then subtags
# ("en", "pt-BR", "zh-Hant", "sr-Latn-RS").
_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}$")
_SRT_START = re.compile(r"^\d+[ \t]*\r?\n\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}[ \t]+-->[ \t]+")


def check_option(captions, field, check_uri=None):
    """Check an output's ``captions`` option: a list of {"uri", "language"}.

    ``check_uri(uri, field)`` checks each URI under the source's rules.
    Raises InvalidInput naming the field.
    """
    from nommer.core.errors import InvalidInput

    if not isinstance(captions, list) or not captions:
        raise InvalidInput(field, 'must be a non-empty list of {"uri": ..., "language": ...}')
    if len(captions) > MAX_CAPTIONS:
        raise InvalidInput(field, f"at most {MAX_CAPTIONS} caption files per output")
    for j, caption in enumerate(captions):
        here = f"{field}[{j}]"
        if not isinstance(caption, dict):
            raise InvalidInput(here, 'must be an object with "uri" and "language"')
        for key in caption:
            if key not in ("uri", "language"):
                raise InvalidInput(f"{here}.{key}", 'is not a field of a caption (it takes "uri" and "language")')
        uri = caption.get("uri")
        if not isinstance(uri, str) or not uri.strip():
            raise InvalidInput(f"{here}.uri", "must be the URI of a .srt or .vtt file")
        language = caption.get("language")
        if not isinstance(language, str) or not _LANGUAGE_TAG.match(language):
            raise InvalidInput(f"{here}.language",
                               'must be a language tag such as "en", "de" or "pt-BR" (BCP 47: a 2 or 3 '
                               "letter lowercase language, then optional subtags)")
        if check_uri is not None:
            check_uri(uri, f"{here}.uri")


def caption_format(path):
    """``srt`` or ``webvtt``: what the downloaded caption file at ``path`` is.

    Raises JobFailed (CAPTION_INVALID) when it is not a UTF-8 SubRip or
    WebVTT text file of at most MAX_CAPTION_BYTES.
    """
    from nommer.core.errors import JobFailed

    def invalid(why):
        return JobFailed(f"the caption file {why}; a caption must be a "
                         "SubRip (.srt) or WebVTT (.vtt) text file in UTF-8", code="CAPTION_INVALID")

    size = os.path.getsize(path)
    if size > MAX_CAPTION_BYTES:
        raise invalid(f"has {size} bytes, over the {MAX_CAPTION_BYTES} a caption may have")
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid("is not UTF-8 text") from None
    if "\x00" in text:
        raise invalid("is not text")
    text = text.lstrip("\ufeff \t\r\n")
    if text.startswith("WEBVTT") and (len(text) == 6 or text[6] in " \t\r\n"):
        return "webvtt"
    if _SRT_START.match(text):
        return "srt"
    raise invalid("is neither SubRip (a cue number, then a 00:00:00,000 --> time line) nor WebVTT "
                  "(a first line WEBVTT)")


def caption_input(path, fmt):
    """The input arguments of a caption file: only its own demuxer, local files only."""
    if fmt not in CAPTION_FORMATS:
        raise ValueError(f"caption format {fmt!r} is not one of {CAPTION_FORMATS}")
    return [*CAPTION_GUARD, "-f", fmt, "-i", os.path.abspath(path)]
