"""``/docs``: Swagger UI reading ``/openapi.json``, served from the
flask-swagger-ui package's copy of Swagger UI 5 (no CDN; Swagger UI 4, which
swagger-ui-bundle ships, cannot read OpenAPI 3.1). Its start-up script
(static/reader.js) sends the dashboard's token, kept in the tab's
sessionStorage, with every call, and Swagger UI's Authorize takes one too.
"""

import pathlib

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>nommer API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" href="static/favicon.svg">
<script src="docs/swagger-ui-bundle.js" defer></script>
<script src="static/reader.js" defer></script>
</head>
<body>
<div id="swagger-ui"></div>
</body>
</html>
"""

# Swagger UI sets style attributes and shows data: images (its icons).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)

# The files the page loads; nothing else of the bundle is served.
FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png"})


def folder():
    """The folder of Swagger UI's files in the flask-swagger-ui package (only
    its files are used, not its blueprint)."""
    import flask_swagger_ui

    return pathlib.Path(flask_swagger_ui.__file__).parent / "dist"
