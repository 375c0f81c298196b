"""Codec parameter lists (``-x264-params keyint=60:bframes=2``): read the way
ffmpeg and the encoder read them, and only known-safe keys let through.

An encoder library takes many keys that name files (x264's ``dump_yuv`` and
``stats``, x265's ``csv`` and ``analysis-save``, SVT-AV1's ``fgs-table``...),
and ffmpeg unescapes the list before the library sees it, so ``\\/abs/path``
reaches x264 as ``/abs/path``. A denylist of keys or of path-like text would
always miss one; here each list has an allowlist of rate-control, GOP and
tuning keys, and any other key is refused with its name.

How each list is split (checked against the bundled ffmpeg):

- ``x264-params``, ``x265-params``, ``svtav1-params``, ``aom-params``,
  ``rav1e-params``, ``ts-parameters``: an ffmpeg dictionary,
  ``av_dict_parse_string(text, "=", ":")`` (:func:`tokens.parse_dict`);
- ``kvazaar-params``: the same with "," between pairs;
- ``x264opts``: libx264 splits it itself at ":" and "=", without escapes or
  quotes; nommer refuses backslashes and quotes in it so there is one reading.

x264 and x265 read a key with "_" as "-" and "no-KEY"/"noKEY" as KEY switched
off; their keys are compared in that form. The other libraries' keys are
compared as written.
"""

from nommer.core.errors import InvalidInput
from nommer.core.ffmpeg.tokens import Malformed, parse_dict

_X264 = frozenset({
    # GOP and frame types
    "keyint", "min-keyint", "keyint-min", "scenecut", "intra-refresh", "bframes", "b-adapt",
    "b-bias", "b-pyramid", "open-gop", "ref", "frameref", "deblock", "filter", "interlaced",
    "tff", "bff", "constrained-intra", "pulldown", "fake-interlaced", "cabac",
    # rate control
    "crf", "crf-max", "qp", "qp-constant", "bitrate", "vbv-maxrate", "vbv-bufsize", "vbv-init",
    "qpmin", "qp-min", "qpmax", "qp-max", "qpstep", "qp-step", "ratetol", "ipratio",
    "ip-factor", "pbratio", "pb-factor", "chroma-qp-offset", "aq-mode", "aq-strength", "mbtree",
    "rc-lookahead", "qcomp", "cplxblur", "qblur", "zones", "nal-hrd", "filler",
    # analysis and tuning
    "partitions", "analyse", "8x8dct", "direct", "direct-pred", "weightb", "weightp", "me",
    "merange", "me-range", "mvrange", "mvrange-thread", "subme", "subq", "psy-rd", "psy",
    "mixed-refs", "chroma-me", "trellis", "fast-pskip", "dct-decimate", "nr",
    "deadzone-inter", "deadzone-intra", "cqm", "aud", "slices", "slice-max-size",
    "slice-max-mbs", "slice-min-mbs", "slices-max", "threads", "lookahead-threads",
    "sliced-threads", "sync-lookahead", "deterministic", "n-deterministic", "cpu-independent",
    "level", "bluray-compat", "avcintra-class", "stitchable", "repeat-headers", "annexb",
    # signalling
    "sar", "overscan", "videoformat", "fullrange", "range", "colorprim", "transfer",
    "colormatrix", "chromaloc", "mastering-display", "cll", "alternative-transfer",
    "frame-packing", "force-cfr", "psnr", "ssim",
})

_X265 = frozenset({
    # GOP and frame types
    "keyint", "min-keyint", "scenecut", "scenecut-bias", "hist-scenecut", "bframes", "b-adapt",
    "bframe-bias", "b-pyramid", "open-gop", "ref", "radl", "intra-refresh", "constrained-intra",
    "b-intra", "interlace", "field",
    # rate control
    "crf", "crf-max", "crf-min", "qp", "bitrate", "vbv-maxrate", "vbv-bufsize", "vbv-init",
    "vbv-end", "qpmin", "qpmax", "qpstep", "ipratio", "pbratio", "qcomp", "qblur", "cplxblur",
    "aq-mode", "aq-strength", "aq-motion", "qg-size", "cutree", "rc-lookahead", "lookahead-slices",
    "rc-grain", "strict-cbr", "cbqpoffs", "crqpoffs", "nr-intra", "nr-inter", "lossless",
    "cu-lossless", "hrd", "hrd-concat", "zones",
    # analysis and tuning
    "ctu", "min-cu-size", "max-tu-size", "tu-intra-depth", "tu-inter-depth", "limit-tu", "rect",
    "amp", "early-skip", "rskip", "rskip-edge-threshold", "fast-intra", "b-intra", "tskip",
    "tskip-fast", "limit-refs", "limit-modes", "me", "subme", "merange", "max-merge",
    "temporal-mvp", "weightp", "weightb", "rd", "rdoq-level", "rd-refine", "psy-rd", "psy-rdoq",
    "signhide", "deblock", "sao", "sao-non-deblock", "strong-intra-smoothing",
    "constrained-intra", "frame-threads", "wpp", "pmode", "pme", "pools", "numa-pools",
    "slices", "ssim-rd", "splitrd-skip", "selective-sao", "frame-dup", "dup-threshold",
    # signalling
    "level-idc", "high-tier", "repeat-headers", "aud", "info", "annexb", "temporal-layers",
    "hdr", "hdr-opt", "hdr10", "hdr10-opt", "master-display", "max-cll", "max-luma", "min-luma",
    "colorprim", "transfer", "colormatrix", "range", "videoformat", "chromaloc", "sar",
    "overscan", "display-window", "atc-sei", "pic-struct", "log-level", "ssim", "psnr",
    "idr-recovery-sei", "single-sei", "emitIDRRecoverySEI",
})

_SVTAV1 = frozenset({
    "preset", "crf", "qp", "rc", "tbr", "mbr", "keyint", "irefresh-type", "lookahead", "scd",
    "tune", "hierarchical-levels", "pred-struct", "enable-overlays", "film-grain",
    "film-grain-denoise", "enable-tf", "enable-qm", "qm-min", "qm-max", "chroma-qm-min",
    "chroma-qm-max", "min-qp", "max-qp", "aq-mode", "enable-cdef", "enable-restoration",
    "enable-dlf", "fast-decode", "tile-rows", "tile-columns", "lp", "pin", "level", "profile",
    "buf-sz", "buf-initial-sz", "buf-optimal-sz", "overshoot-pct", "undershoot-pct",
    "recode-loop", "scm", "sharpness", "enable-variance-boost", "variance-boost-strength",
    "variance-octile", "color-primaries", "transfer-characteristics", "matrix-coefficients",
    "color-range", "chroma-sample-position", "mastering-display", "content-light",
    "enable-hdr", "luminance-qp-bias", "qp-scale-compress-strength", "frame-luma-bias",
    "max-32-tx-size", "adaptive-film-grain", "startup-mg-size", "enable-dg", "tf-strength",
    "kf-tf-strength", "noise-norm-strength", "ac-bias", "avif", "rtc",
})

_AOM = frozenset({
    "cpu-used", "end-usage", "cq-level", "target-bitrate", "min-q", "max-q", "undershoot-pct",
    "overshoot-pct", "buf-sz", "buf-initial-sz", "buf-optimal-sz", "kf-min-dist",
    "kf-max-dist", "lag-in-frames", "row-mt", "tile-columns", "tile-rows", "enable-tpl-model",
    "arnr-maxframes", "arnr-strength", "tune", "tune-content", "max-intra-rate",
    "max-inter-rate", "gf-cbr-boost", "lossless", "enable-cdef", "enable-restoration",
    "enable-rect-partitions", "enable-ab-partitions", "enable-1to4-partitions",
    "min-partition-size", "max-partition-size", "enable-dual-filter", "enable-chroma-deltaq",
    "enable-intra-edge-filter", "enable-order-hint", "enable-tx64", "enable-flip-idtx",
    "enable-rect-tx", "enable-dist-wtd-comp", "enable-masked-comp", "enable-onesided-comp",
    "enable-interintra-comp", "enable-smooth-interintra", "enable-diff-wtd-comp",
    "enable-interinter-wedge", "enable-interintra-wedge", "enable-global-motion",
    "enable-warped-motion", "enable-filter-intra", "enable-smooth-intra", "enable-paeth-intra",
    "enable-cfl-intra", "enable-overlay", "enable-palette", "enable-intrabc",
    "enable-angle-delta", "reduced-tx-type-set", "enable-qm", "qm-min", "qm-max", "deltaq-mode",
    "deltaq-strength", "aq-mode", "frame-parallel", "error-resilient", "sharpness",
    "static-thresh", "noise-sensitivity", "coeff-cost-upd-freq", "mode-cost-upd-freq",
    "mv-cost-upd-freq", "color-primaries", "transfer-characteristics", "matrix-coefficients",
    "chroma-sample-position", "min-gf-interval", "max-gf-interval", "gf-min-pyr-height",
    "gf-max-pyr-height", "sb-size", "superblock-size", "enable-keyframe-filtering",
    "denoise-noise-level", "denoise-block-size", "enable-fwd-kf", "enable-tx-size-search",
    "enable-chroma-deltaq", "loopfilter-control", "auto-alt-ref", "sframe-dist", "sframe-mode",
    "disable-trellis-quant", "enable-ref-frame-mvs", "enable-reduced-reference-set",
    "screen-detection-mode", "auto-intra-tools-off", "threads",
})

_RAV1E = frozenset({
    "speed", "threads", "tiles", "tile_rows", "tile_cols", "tune", "quantizer", "min_quantizer",
    "bitrate", "key_frame_interval", "min_key_frame_interval", "switch_frame_interval",
    "reservoir_frame_delay", "rdo_lookahead_frames", "low_latency", "still_picture",
    "error_resilient", "color_primaries", "transfer_characteristics", "matrix_coefficients",
    "pixel_range", "chroma_sample_position", "mastering_display", "content_light",
})

_KVAZAAR = frozenset({
    "preset", "qp", "period", "vps-period", "ref", "bipred", "deblock", "sao", "rdoq",
    "rdoq-skip", "signhide", "smp", "amp", "rd", "full-intra-search", "transform-skip",
    "tr-depth-intra", "me", "subme", "gop", "owf", "wpp", "pu-depth-inter", "pu-depth-intra",
    "bitrate", "rc-algorithm", "tiles", "slices", "threads", "level", "high-tier",
    "mv-constraint", "cu-split-termination", "me-early-termination", "intra-rdo-et",
    "lossless", "implicit-rdpcm", "zero-coeff-rdo", "open-gop", "vaq", "fast-residual-cost",
    "max-merge", "early-skip", "intra-qp-offset", "mip", "mrl", "lfnst", "fastrd-sampling",
    "clip-neighbour", "intra-bits", "input-format", "input-bitdepth",
})

_VPX_TS = frozenset({
    "ts_number_layers", "ts_target_bitrate", "ts_rate_decimator", "ts_periodicity",
    "ts_layer_id", "ts_layering_mode",
})


def _x26x_key(key):
    """The key as x264's and x265's param_parse read it: "_" is "-", a "--"
    before it is dropped (x265), and "no-KEY" or "noKEY" is KEY switched off."""
    key = key.replace("_", "-").lstrip("-")
    if key.startswith("no-"):
        return key[3:]
    if key.startswith("no"):
        return key[2:]
    return key


def _as_written(key):
    return key


def _dict(pairs_sep):
    def split(text):
        return parse_dict(text, "=", pairs_sep)
    return split


def _x264opts(text):
    """libx264's own reading of -x264opts: parts between ":", each ``key`` or
    ``key=value`` (a value ends at the next ":"). No escapes or quotes."""
    if "\\" in text or "'" in text or '"' in text:
        raise Malformed("backslashes and quotes are not allowed (libx264 splits -x264opts at ':' as they are)")
    pairs = []
    for part in text.split(":"):
        key, eq, value = part.partition("=")
        if not key or key != key.strip() or (eq and not value):
            raise Malformed(f"{part!r} is not key or key=value")
        pairs.append((key, value if eq else "1"))
    return pairs


# option name -> (how ffmpeg and the library split it, key normaliser, allowed keys)
PARAM_LISTS = {
    "x264-params": (_dict(":"), _x26x_key, _X264),
    "x264opts": (_x264opts, _x26x_key, _X264),
    "x265-params": (_dict(":"), _x26x_key, _X265),
    "svtav1-params": (_dict(":"), _as_written, _SVTAV1),
    "aom-params": (_dict(":"), _as_written, _AOM),
    "rav1e-params": (_dict(":"), _as_written, _RAV1E),
    "kvazaar-params": (_dict(","), _as_written, _KVAZAAR),
    "ts-parameters": (_dict(":"), _as_written, _VPX_TS),
}

_NOT_CHECKED = "nommer cannot check its keys, and some of them name files"
# Other key=value lists of the bundled ffmpeg (every <dictionary> option of
# ``ffmpeg -h full``, and the string options that hold such lists): refused.
REFUSED_LISTS = {
    "vvenc-params": _NOT_CHECKED,
    "xavs2-params": _NOT_CHECKED,
    "oapv-params": _NOT_CHECKED,
    "qsv_params": _NOT_CHECKED,
    "extra_opts": _NOT_CHECKED,
    "format_options": "it sets options of segmenting muxers nommer does not run",
    "format_opts": "it sets options of muxers and demuxers nommer does not run",
    "seg_format_options": "it sets options of segmenting muxers nommer does not run",
    "segment_format_options": "it sets options of segmenting muxers nommer does not run",
    "hls_segment_options": "it sets options of segmenting muxers nommer does not run",
    "hls_vtt_options": "it sets options of segmenting muxers nommer does not run",
    "mpegts_muxer_options": "it sets options of segmenting muxers nommer does not run",
    "rtp_muxer_options": "it sets options of network muxers nommer does not run",
    "fifo_options": "it sets options of the fifo muxer nommer does not run",
    "http_opts": "it sets network options; ffmpeg may only use the job's own files",
    "protocol_opts": "it sets protocol options; ffmpeg may only use the job's own files",
    "decryption_keys": "it sets options of a demuxer nommer does not read",
    "srtp_out_params": "it sets network options; ffmpeg may only use the job's own files",
    "srtp_in_params": "it sets network options; ffmpeg may only use the job's own files",
}


def check_param_list(name, base, value, place):
    """Raise InvalidInput naming ``place``, the option and the key when the
    parameter list ``value`` of option ``-name`` (base name ``base``, a key of
    :data:`PARAM_LISTS`) has a key that is not allowed or cannot be read."""
    split, normalise, allowed = PARAM_LISTS[base]
    try:
        pairs = split(value)
    except Malformed as e:
        raise InvalidInput(place, f"the parameter list of -{name} cannot be read: {e}") from None
    for key, _ in pairs:
        if normalise(key) not in allowed:
            raise InvalidInput(
                place,
                f"-{name} key {key!r} is not allowed: nommer lets through rate-control, GOP and "
                f"tuning keys only, never keys that name files ({_examples(allowed)})",
            )


def _examples(allowed):
    shown = sorted(allowed)[:12]
    return "allowed: " + ", ".join(shown) + (", ..." if len(allowed) > len(shown) else "")
