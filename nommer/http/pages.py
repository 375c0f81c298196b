"""Pages for people and tools: the dashboard, the OpenAPI document and its
reader, and the table of job error codes the dashboard explains errors with."""

from flask import Blueprint, Response, abort, send_from_directory

from nommer.core.model.error_advice import advice_table
from nommer.http import dashboard, openapi, reader


def _page(text, policy):
    return Response(text, content_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": policy})


def blueprint():
    bp = Blueprint("pages", __name__)

    @bp.get("/")
    def index():
        return _page(dashboard.PAGE, dashboard.CONTENT_SECURITY_POLICY)

    @bp.get("/openapi.json")
    def openapi_json():
        return openapi.document()

    @bp.get("/error-codes")
    def error_codes():
        return {"job_error_codes": advice_table()}

    @bp.get("/docs")
    def docs():
        return _page(reader.PAGE, reader.CONTENT_SECURITY_POLICY)

    @bp.get("/docs/<filename>")
    def docs_file(filename):
        if filename not in reader.FILES:
            abort(404)
        return send_from_directory(reader.folder(), filename)

    return bp
