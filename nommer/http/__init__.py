"""The feeder's JSON HTTP API: a Flask app built by :func:`nommer.http.app.create_app`."""
