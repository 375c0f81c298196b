"""``GET /presets``: the presets this farm knows, built-in and the operator's."""

from flask import Blueprint


def blueprint(api):
    bp = Blueprint("presets", __name__)

    @bp.get("/presets")
    def list_presets():
        return {"presets": api.presets()}

    return bp
