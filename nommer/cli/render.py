"""How the nommer command shows jobs, lists and progress."""

import sys

FINAL = ("FINISHED", "ERROR", "CANCELED", "ABANDONED")
BAR_WIDTH = 30


def progress_line(job):
    """``ENCODING  [#########.....]  45%  encode 43%`` for a job resource."""
    done = max(0, min(100, int(job.get("progress") or 0)))
    filled = BAR_WIDTH * done // 100
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    line = f"{job['state']:<11} [{bar}] {done:3d}%"
    phase = job.get("phase")
    if phase:
        line += f"  {phase} {(job.get('phases') or {}).get(phase, 0)}%"
    return line


class ProgressView:
    """Shows a job's progress on ``stream``: redrawn in place on a terminal,
    a new line per change otherwise (logs, pipes)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last = None

    def show(self, job):
        line = progress_line(job)
        if line == self.last:
            return
        self.last = line
        if self.tty:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self):
        if self.tty and self.last is not None:
            self.stream.write("\n")
            self.stream.flush()


def job_summary(job):
    """Lines that describe a job resource for people."""
    lines = [f"job {job['id']}: {job['state']} ({job.get('progress', 0)}%)"]
    if job.get("error_code"):
        lines.append(f"  error: {job['error_code']}: {job.get('details', '')}")
    elif job.get("details"):
        lines.append(f"  details: {job['details']}")
    lines.append(f"  source: {job['source']}")
    for i, output in enumerate(job.get("outputs", [])):
        what = output.get("preset") or "options"
        lines.append(f"  outputs[{i}] {what} -> {output['destination']}: {output.get('state', 'PENDING')}")
        result = output.get("result") or {}
        if result:
            count = result.get("file_count", len(result.get("files", [])))
            facts = [f"{count} file(s)", f"{result.get('size', 0)} bytes"]
            if result.get("width"):
                facts.append(f"{result['width']}x{result['height']}")
            if result.get("duration"):
                facts.append(f"{result['duration']:g} s")
            lines.append("    " + ", ".join(facts))
            if result.get("manifest"):
                lines.append(f"    manifest: {result['manifest']}")
        if output.get("error"):
            lines.append(f"    {output.get('error_code')}: {output['error']}")
    return lines


def table(rows, headers):
    """Rows of text as aligned columns, the last one left ragged."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers) - 1)]
    lines = []
    for row in [headers, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths)] + [str(row[-1])]
        lines.append("  ".join(cells).rstrip())
    return lines
