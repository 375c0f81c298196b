"""``nommer``: the command-line client of a nommer feeder.

    nommer submit SOURCE --preset NAME --to DEST [--preset NAME --to DEST ...] [--notify URL] [--priority N] [--acceleration A] [--wait]
    nommer status ID [--json]
    nommer wait ID
    nommer cancel ID
    nommer list [--state S] [--json]
    nommer presets [--json]
    nommer fleet [retry]
    nommer aws deploy [--cluster C] [--write nommer.toml] | aws publish [--config nommer.toml]

``--url`` (or NOMMER_URL) names the feeder, ``--token`` (or NOMMER_TOKEN) is
sent as ``Authorization: Bearer``. Local paths become file:// URIs.
"""

import argparse
import json
import os
import pathlib
import sys
import time

from nommer import __version__
from nommer.cli import aws, render
from nommer.cli.client import JOB_FAILED, OK, REFUSED, ApiClient, CliError

DEFAULT_URL = "http://127.0.0.1:8001"
POLL_SECONDS = 0.5

EPILOG = """\
exit status: 0 done (for wait: the job FINISHED); 1 the job ended ERROR,
CANCELED or ABANDONED (for fleet retry: launches still fail); 2 the request was refused or the command is wrong;
3 the feeder could not be reached.
"""


def local_source(text):
    """``text`` as a source URI; a local path must name a readable file, so a
    typo is caught here rather than as a job ending in ERROR."""
    if "://" in text:
        return text
    path = pathlib.Path(text).expanduser()
    if not path.exists():
        raise CliError(f"source {text}: no such file", REFUSED)
    if not path.is_file():
        raise CliError(f"source {text}: not a file", REFUSED)
    if not os.access(path, os.R_OK):
        raise CliError(f"source {text}: not readable", REFUSED)
    return to_uri(text)


def to_uri(text):
    """``text`` as a URI: URIs stay as they are, local paths become
    absolute file:// URIs (a folder keeps or gains its trailing slash)."""
    if "://" in text:
        return text
    path = pathlib.Path(text).expanduser().resolve()
    uri = path.as_uri()
    if text.endswith(("/", os.sep)) or path.is_dir():
        uri += "/"
    return uri


class _OutputPart(argparse.Action):
    """--preset and --to build the outputs in order, a pair at a time;
    --interval and --caption apply to the output being built."""

    def __call__(self, parser, namespace, value, option_string=None):
        outputs = getattr(namespace, "outputs", None) or []
        key = {"preset": "preset", "to": "destination", "interval": "interval", "caption": "captions"}[self.dest]
        if key == "captions":
            if not outputs:
                parser.error("--caption must follow the --preset it is for")
            language, sep, where = value.partition("=")
            if not sep or not language or not where:
                parser.error(f"--caption {value!r}: give LANGUAGE=FILE, e.g. en=talk.en.srt")
            outputs[-1].setdefault("captions", []).append({"uri": to_uri(where), "language": language})
        elif key == "interval":
            if not outputs:
                parser.error("--interval must follow the --preset it is for")
            outputs[-1][key] = value
        elif outputs and key not in outputs[-1]:
            outputs[-1][key] = value
        else:
            outputs.append({key: value})
        namespace.outputs = outputs


def _connection_options(defaults):
    # Given before or after the command. The command's copy has no default
    # (SUPPRESS), or it would overwrite a value given before the command.
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--url", default=os.environ.get("NOMMER_URL", DEFAULT_URL) if defaults else argparse.SUPPRESS,
                         help=f"the feeder's address (default $NOMMER_URL or {DEFAULT_URL})")
    options.add_argument("--token", default=os.environ.get("NOMMER_TOKEN") if defaults else argparse.SUPPRESS,
                         help="API token, sent as 'Authorization: Bearer' (default $NOMMER_TOKEN)")
    return options


def parser():
    common = _connection_options(defaults=False)
    top = argparse.ArgumentParser(
        prog="nommer", description="Submit and follow encoding jobs on a nommer feeder.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_connection_options(defaults=True)])
    top.add_argument("--version", action="version", version=f"nommer {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    submit = commands.add_parser("submit", parents=[common], help="submit a job",
                                 description="Submit a job: one source, one or more outputs.")
    submit.add_argument("source", help="source URI or local path")
    submit.add_argument("--preset", action=_OutputPart, metavar="NAME", help="preset of the next output (see `nommer presets`)")
    submit.add_argument("--to", action=_OutputPart, metavar="DEST",
                        help="destination of that output: a file, or a folder ending in / for HLS and thumbnails")
    submit.add_argument("--interval", action=_OutputPart, type=float, metavar="SECONDS",
                        help="seconds between thumbnails, for a thumbnails-jpeg output")
    submit.add_argument("--caption", action=_OutputPart, metavar="LANG=FILE",
                        help="a .srt or .vtt file (path or URI) to add to that output, e.g. en=talk.en.srt; "
                             "repeatable (MP4, HLS, CMAF and DASH presets)")
    submit.add_argument("--notify", metavar="URL", help="webhook told of every state change")
    submit.add_argument("--progress-events", action="store_true", help="also send job.progress webhooks")
    submit.add_argument("--priority", type=int, metavar="N",
                        help="-50 to 50 (default 0): higher priorities are encoded first")
    submit.add_argument("--acceleration", metavar="A",
                        help="DISABLED, ENABLED or PREFERRED (default: the farm's setting): cut the video into "
                             "segments that several encoders make at once")
    submit.add_argument("--wait", action="store_true", help="wait for the job to end, showing its progress")

    for name, text in (("status", "show a job"), ("wait", "wait for a job to end, showing its progress"),
                       ("cancel", "cancel a job")):
        one = commands.add_parser(name, parents=[common], help=text, description=text.capitalize() + ".")
        one.add_argument("job_id", metavar="ID")
        if name == "status":
            _json_flag(one, "print the job as JSON")

    listing = commands.add_parser("list", parents=[common], help="list jobs, newest first")
    listing.add_argument("--state", help="only jobs in this state (or states, comma-separated)")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    _json_flag(listing, "print the API's answer as JSON (with next_cursor)")

    presets = commands.add_parser("presets", parents=[common], help="list the presets the farm knows")
    _json_flag(presets, "print the presets as JSON")

    fleet = commands.add_parser("fleet", parents=[common], help="show the encoders, or launch again now",
                                description="Show the encoder machines and why launches fail; "
                                            "`nommer fleet retry` launches again at once, once the cause is fixed.")
    fleet.add_argument("action", nargs="?", choices=["show", "retry"], default="show")
    aws.add_commands(commands)
    return top


def _json_flag(command, text):
    command.add_argument("--json", action="store_true", help=text)


def _print_json(value, out):
    print(json.dumps(value, indent=2), file=out)


def main(argv=None, stdout=None, stderr=None):
    """Run the command; returns the exit status."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    args = parser().parse_args(argv)
    if args.command == "aws":  # talks to AWS, not to a feeder
        return aws.run(args, stdout, stderr)
    client = ApiClient(args.url, args.token)
    try:
        status = COMMANDS[args.command](client, args, stdout, stderr)
        stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
        return status
    except BrokenPipeError:
        # The reader went away (`nommer list | head`): what it read is all it
        # wanted. Point stdout at nothing so the interpreter's own flush at
        # exit does not fail a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass  # stdout is not a real file (tests hand a StringIO)
        return OK
    except CliError as e:
        print(f"nommer: {e}", file=stderr)
        return e.status
    except KeyboardInterrupt:
        print("nommer: interrupted (the job goes on; `nommer wait` follows it again)", file=stderr)
        return 130


def cmd_submit(client, args, out, err):
    outputs = getattr(args, "outputs", None) or []
    if not outputs:
        raise CliError("give at least one output: --preset NAME --to DEST", REFUSED)
    for n, output in enumerate(outputs, start=1):
        for key, flag in (("preset", "--preset"), ("destination", "--to")):
            if key not in output:
                raise CliError(f"output {n} has no {flag}; give outputs as --preset NAME --to DEST pairs", REFUSED)
        output["destination"] = to_uri(output["destination"])
    body = {"source": local_source(args.source), "outputs": outputs}
    if args.notify:
        body["notify_url"] = args.notify
    if args.progress_events:
        body["progress_events"] = True
    if args.priority is not None:
        body["priority"] = args.priority  # the API checks the range, naming priority
    if args.acceleration is not None:
        body["acceleration"] = args.acceleration  # the API checks it, naming acceleration
    job = client.post("/jobs", body)
    print(job["id"], file=out)
    if args.wait:
        return follow(client, job["id"], out, err)
    return OK


def cmd_wait(client, args, out, err):
    return follow(client, args.job_id, out, err)


def follow(client, job_id, out, err):
    """Show the job's progress until it ends; the exit status of its end."""
    view = render.ProgressView(err)
    try:
        while True:
            job = client.get(f"/jobs/{job_id}")
            view.show(job)
            if job["state"] in render.FINAL:
                break
            time.sleep(POLL_SECONDS)
    finally:
        view.close()
    if job["state"] == "FINISHED":
        for line in render.job_summary(job):
            print(line, file=out)
        return OK
    reason = f" ({job['error_code']})" if job.get("error_code") else ""
    print(f"nommer: job {job_id} ended {job['state']}{reason}: {job.get('details') or 'no details'}", file=err)
    return JOB_FAILED


def cmd_status(client, args, out, err):
    job = client.get(f"/jobs/{args.job_id}")
    if args.json:
        _print_json(job, out)
    else:
        for line in render.job_summary(job):
            print(line, file=out)
    return OK


def cmd_cancel(client, args, out, err):
    job = client.post(f"/jobs/{args.job_id}/cancel")
    print(f"job {job['id']}: {job['state']}", file=out)
    return OK


def cmd_list(client, args, out, err):
    answer = client.get("/jobs", state=args.state, limit=args.limit)
    if args.json:
        _print_json(answer, out)
        return OK
    rows = [(j["id"], j["state"], f"{j.get('progress', 0)}%", j["created_at"], j["source"]) for j in answer["jobs"]]
    if not rows:
        print("no jobs", file=err)
        return OK
    for line in render.table(rows, ("ID", "STATE", "PROGRESS", "CREATED", "SOURCE")):
        print(line, file=out)
    return OK


def cmd_presets(client, args, out, err):
    presets = client.get("/presets")["presets"]
    if args.json:
        _print_json(presets, out)
        return OK
    rows = [(p["name"], p["kind"], p["extension"], p["description"]) for p in presets]
    for line in render.table(rows, ("NAME", "KIND", "EXT", "DESCRIPTION")):
        print(line, file=out)
    return OK


def _problem_lines(answer):
    for kind, what in (("launch_error", "launches fail"), ("spot_error", "spot refused, on demand used")):
        problem = answer.get(kind)
        if problem:
            yield f"{what} (since {problem['at']}): {problem['message']}"
            if problem.get("missing_permission"):
                yield f"  missing permission: {problem['missing_permission']}"


def cmd_fleet(client, args, out, err):
    if args.action == "retry":
        answer = client.post("/fleet/retry")
        problems = list(_problem_lines(answer))
        print("launching again now" if not problems else "launched again; still:", file=out)
        for line in problems:
            print(line, file=err)
        return OK if not problems else JOB_FAILED
    answer = client.get("/fleet")
    rows = [(m["id"], m["state"], m.get("started_at", ""), m.get("detail", "")) for m in answer["members"]]
    if rows:
        for line in render.table(rows, ("ID", "STATE", "STARTED", "DETAIL")):
            print(line, file=out)
    else:
        print("no encoder machines", file=err)
    for line in _problem_lines(answer):
        print(line, file=err)
    return OK


COMMANDS = {
    "submit": cmd_submit, "wait": cmd_wait, "status": cmd_status, "cancel": cmd_cancel,
    "list": cmd_list, "presets": cmd_presets, "fleet": cmd_fleet,
}
