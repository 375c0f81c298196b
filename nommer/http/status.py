"""What the feeder says about itself: fleet, health and metrics."""

from flask import Blueprint, Response

from nommer.http import auth, metrics


def blueprint(api, feeder_metrics):
    bp = Blueprint("status", __name__)

    @bp.get("/fleet")
    def fleet():
        return api.fleet()

    @bp.post("/fleet/retry")
    def retry_fleet():
        return api.retry_fleet()

    @bp.get("/health")
    def health():
        ok, report = api.health()
        if auth.anonymous():
            # Up or down is all a load balancer needs; job counts and the
            # actors' errors are for those holding a token.
            report = {"status": report.get("status", "ok") if ok else "degraded"}
        return report, 200 if ok else 503

    @bp.get("/metrics")
    def prometheus():
        return Response(feeder_metrics.render(), content_type=metrics.CONTENT_TYPE)

    return bp
