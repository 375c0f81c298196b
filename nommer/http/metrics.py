"""Prometheus text exposition of the numbers ``api.health()`` reports.

``health()[1]["metrics"]`` maps a name to
- a number: ``{"encoders": 2}`` → ``nommer_encoders 2``;
- numbers by one label value: ``{"jobs": {"PENDING": 3}}`` →
  ``nommer_jobs{state="PENDING"} 3`` (the label is named in ``LABELS``,
  else ``key``);
- or numbers by a named label: ``{"jobs": {"state": {"PENDING": 3}}}``.
Anything else is skipped, so a surprise in the dict never breaks scraping.
"""

import math
import re

from nommer.core.jobs import State

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LABELS = {"jobs": "state"}
# Counts leave out states without jobs; a series that vanishes instead of
# reading 0 makes alerts on it go silent, so these are always written.
ALWAYS = {("jobs", "state"): [s.value for s in State]}


def render(metrics, healthy, prefix="nommer"):
    lines = [f"# TYPE {prefix}_healthy gauge", f"{prefix}_healthy {int(bool(healthy))}"]
    for name, value in (metrics or {}).items():
        metric = f"{prefix}_{_name(name)}"
        samples = list(_samples(name, metric, value))
        if samples:
            lines.append(f"# TYPE {metric} gauge")
            lines.extend(samples)
    return "\n".join(lines) + "\n"


def _samples(name, metric, value):
    if not isinstance(value, dict):
        text = _number(value)
        if text is not None:
            yield f"{metric} {text}"
        return
    if value and all(isinstance(v, dict) for v in value.values()):
        by_label = value
    else:
        by_label = {LABELS.get(name, "key"): value}
    for label, series in by_label.items():
        series = {**dict.fromkeys(ALWAYS.get((name, label), ()), 0), **series}
        for label_value, number in series.items():
            text = _number(number)
            if text is not None:
                yield f'{metric}{{{_name(label)}="{_escape(label_value)}"}} {text}'


def _number(value):
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    return None


def _name(text):
    name = re.sub(r"[^a-zA-Z0-9_]", "_", str(text))
    return name if not name[:1].isdigit() else "_" + name


def _escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
