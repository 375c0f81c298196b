"""GET / (the dashboard) and GET /openapi.json."""

from nommer.http.models import LegacySubmitRequest, SubmitRequest


def test_openapi_document_uses_the_validating_models(client):
    answer = client.get("/openapi.json")

    assert answer.status_code == 200
    doc = answer.get_json()
    assert doc["openapi"].startswith("3.1")
    schemas = doc["components"]["schemas"]
    submit = SubmitRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    assert schemas["SubmitRequest"] == {k: v for k, v in submit.items() if k != "$defs"}
    assert schemas["OutputSpec"] == submit["$defs"]["OutputSpec"]
    assert "LegacySubmitRequest" in schemas
    assert schemas["SubmitRequest"]["additionalProperties"] is False


def test_openapi_lists_every_route_of_the_app(app, client):
    documented = set(client.get("/openapi.json").get_json()["paths"])
    routes = {
        rule.rule.replace("<job_id>", "{job_id}")
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
    }

    assert routes == documented


def test_openapi_job_schema_matches_the_job_resource(client, submit):
    job = submit()

    schema = client.get("/openapi.json").get_json()["components"]["schemas"]["Job"]

    assert set(schema["properties"]) == set(job)


def test_openapi_list_parameters_come_from_the_query_model(client):
    get_jobs = client.get("/openapi.json").get_json()["paths"]["/jobs"]["get"]
    limit = next(p for p in get_jobs["parameters"] if p["name"] == "limit")

    assert limit["schema"]["maximum"] == 1000
    assert {p["name"] for p in get_jobs["parameters"]} == {"state", "limit", "cursor"}


def test_dashboard_is_self_contained_html_that_polls_the_api(client):
    answer = client.get("/")

    assert answer.status_code == 200
    assert answer.content_type.startswith("text/html")
    page = answer.get_data(as_text=True)
    assert 'fetch(url' in page and '"jobs?limit=50"' in page and '"fleet"' in page
    assert "setInterval(refresh, 2000)" in page
    for external in ("http://", "https://", "<link", "src="):
        assert external not in page
    assert "innerHTML" not in page  # job text goes in as text, never as HTML


def test_legacy_schema_names_the_ffmpeg_nommer(client):
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    nommer = LegacySubmitRequest.model_json_schema()["$defs"]["LegacyJobOptions"]["properties"]["nommer"]

    assert schemas["LegacyJobOptions"]["properties"]["nommer"] == nommer


def test_openapi_documents_every_method_and_the_401_of_every_closed_route(app, client):
    from nommer.http.openapi import OPEN

    paths = client.get("/openapi.json").get_json()["paths"]
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<job_id>", "{job_id}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = paths[path][method.lower()]
            if (path, method.lower()) in OPEN:
                assert operation["security"] == []
            else:
                assert "401" in operation["responses"], (method, path)


def test_openapi_declares_the_bearer_scheme(client):
    doc = client.get("/openapi.json").get_json()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "One of the api_tokens setting."}
    assert doc["security"] == [{"bearer": []}]
