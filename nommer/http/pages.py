"""Pages for people and tools: the dashboard and the OpenAPI document."""

from flask import Blueprint, Response

from nommer.http import dashboard, openapi


def blueprint():
    bp = Blueprint("pages", __name__)

    @bp.get("/")
    def index():
        return Response(dashboard.PAGE, content_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": dashboard.CONTENT_SECURITY_POLICY})

    @bp.get("/openapi.json")
    def openapi_json():
        return openapi.document()

    return bp
