"""The ffmpeg options that take no value, as the bundled ffmpeg reads them.

ffmpeg reads the argument after an option as its value unless the option
takes none; then that argument stands alone, and a lone argument is an output
file (it also ends the group of options before it, so options meant for the
input would belong to that stray output). So nommer must know exactly which
options take no value: a value given to one is refused, and a bare flag is
only for these.

The lists are what :func:`derive` found by asking the bundled ffmpeg (the
help text alone is not enough: it shows ``-hide_banner <hide_banner>`` and
``-xerror <error>`` with an argument name though they take none, and
``-filter_threads`` without one though it takes one). A test derives them
again from the bundled ffmpeg and fails when they differ; after an ffmpeg
upgrade, write the new lists with ``python -m nommer.core.ffmpeg.valueless``.
"""

import os
import re
import subprocess
import sys
import tempfile

# Options that take no value (``-an``); "no" + a boolean one (``-noan``) too.
VALUELESS = frozenset({
    "accurate_seek", "an", "auto_conversion_filters", "autorotate", "autoscale",
    "benchmark", "benchmark_all", "bitexact", "copy_unknown", "copyinkf", "copyts",
    "debug_ts", "display_hflip", "display_vflip", "dn", "dump", "find_stream_info",
    "fix_sub_duration", "fix_sub_duration_heartbeat", "force_fps", "hex", "hide_banner",
    "ignore_unknown", "n", "print_graphs", "re", "recast_media", "report", "shortest",
    "sn", "start_at_zero", "stats", "stdin", "vn", "vstats", "xerror", "y",
})
# The boolean ones among them: ffmpeg also takes ``-noNAME`` (no value) for these.
NEGATABLE = frozenset({
    "accurate_seek", "an", "auto_conversion_filters", "autorotate", "autoscale",
    "benchmark", "benchmark_all", "bitexact", "copy_unknown", "copyinkf", "copyts",
    "debug_ts", "display_hflip", "display_vflip", "dn", "dump", "find_stream_info",
    "fix_sub_duration", "fix_sub_duration_heartbeat", "force_fps", "hex", "hide_banner",
    "ignore_unknown", "n", "print_graphs", "re", "recast_media", "shortest", "sn",
    "start_at_zero", "stats", "stdin", "vn", "xerror", "y",
})
# Arguments that start a new group of options the way "-i" does, besides a
# lone argument (an output). ``-dec`` opens a loopback decoder. The help text
# does not list them; ffmpeg's debug log names them.
GROUP_SEPARATORS = frozenset({"i", "dec"})


def takes_no_value(base):
    """True when ``-base`` (no stream specifier) takes no value."""
    return base in VALUELESS or (base.startswith("no") and base[2:] in NEGATABLE)


_PROBE = "nommer-probe-value"
_READ = re.compile(r"^Reading option '-([^']+)' \.\.\. matched as (.*)$", re.M)
_AS_OPTION = re.compile(r"option '([^']+)' \(.*\) with argument '?(.*?)'?\.$")
# Read by ffmpeg before anything else; a probe value would stop it there.
_READ_EARLY = ("v", "loglevel", "report", "hide_banner", "cpuflags", "cpucount", "max_alloc")


def option_names(ffmpeg):
    """The names of ffmpeg's own options, from ``-h full`` (the part before
    the codec and format AVOptions, which all take a value)."""
    text = subprocess.run([ffmpeg, "-hide_banner", "-h", "full"], capture_output=True,
                          text=True, timeout=60).stdout
    head = text.split("AVCodecContext AVOptions:", 1)[0]
    return sorted({m.group(1) for m in re.finditer(r"^-([A-Za-z0-9_][A-Za-z0-9_\-]*)", head, re.M)})


def derive(ffmpeg):
    """(valueless, negatable, separators) as ``ffmpeg`` reads its command line.

    ffmpeg's debug log says, for each argument it reads, which option it
    matched and with what argument: every option followed by a probe value
    shows whether it took the probe (it takes a value) or not.
    """
    names = option_names(ffmpeg)
    with tempfile.TemporaryDirectory() as cwd:  # -report would write its log here
        argv = [ffmpeg, "-v", "debug"]
        for name in names:
            if name not in _READ_EARLY:
                argv += ["-" + name, _PROBE]
        read = _reading(ffmpeg, argv[1:], cwd)
        valueless = set()
        separators = set()
        for name, how in read:
            if name not in names or name in _READ_EARLY:
                continue
            took = _AS_OPTION.match(how)
            if took is None:
                separators.add(name)  # "matched as input url / loopback decoder ..."
            elif took.group(2) != _PROBE:
                valueless.add(name)
        for name in _READ_EARLY:
            if name in names:
                out = _run(ffmpeg, ["-" + name], cwd)
                if f"Missing argument for option '{name}'" not in out:
                    valueless.add(name)
        negatable = set()
        for name in sorted(valueless):
            out = _run(ffmpeg, ["-v", "debug", "-no" + name, _PROBE], cwd)
            if re.search(rf"^Reading option '-no{name}' \.\.\. matched as option '{name}' .* with argument 0\.$",
                         out, re.M):
                negatable.add(name)
    return frozenset(valueless), frozenset(negatable), frozenset(separators | _separators(ffmpeg))


def _separators(ffmpeg):
    """Which of "-i" and "-dec" this ffmpeg reads as the start of a group."""
    found = set()
    with tempfile.TemporaryDirectory() as cwd:
        for name in ("i", "dec"):
            out = _run(ffmpeg, ["-v", "debug", "-" + name, _PROBE], cwd)
            how = dict(_READ.findall(out)).get(name, "")
            if how and not how.startswith("option ") and not how.startswith("AVOption "):
                found.add(name)
    return found


def _reading(ffmpeg, args, cwd):
    return _READ.findall(_run(ffmpeg, args, cwd))


def _run(ffmpeg, args, cwd):
    done = subprocess.run([ffmpeg, "-nostdin", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60, stdin=subprocess.DEVNULL, env={**os.environ, "FFREPORT": ""})
    return done.stderr


def main():
    import imageio_ffmpeg

    valueless, negatable, separators = derive(imageio_ffmpeg.get_ffmpeg_exe())
    for title, names in (("VALUELESS", valueless), ("NEGATABLE", negatable), ("GROUP_SEPARATORS", separators)):
        print(f"{title} = {sorted(names)!r}")


if __name__ == "__main__":
    sys.exit(main())
