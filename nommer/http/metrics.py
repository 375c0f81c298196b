"""``GET /metrics``: the feeder's Prometheus metrics (nommer/core/feeder/metrics.py)."""

from nommer.core.feeder.metrics import CONTENT_TYPE, FeederMetrics
from nommer.core.errors import NommerError

__all__ = ["CONTENT_TYPE", "for_api", "health_snapshot"]


def health_snapshot(api):
    """What ``api.health()`` tells the gauges: up or not, jobs by state."""
    try:
        ok, report = api.health()
    except NommerError:  # an actor restarting: down for this scrape
        return {"healthy": False}
    return {"healthy": ok, "jobs": (report.get("metrics") or {}).get("jobs") or {}}


def for_api(api):
    """Metrics of an app served without a feeder's own (tests, tools): the
    gauges ``api.health()`` can fill, the counters at zero."""
    metrics = FeederMetrics()
    metrics.watch(lambda: health_snapshot(api))
    return metrics
