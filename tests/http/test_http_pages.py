"""GET / (the dashboard) and GET /openapi.json."""

import json
import re

from nommer.http.models import LegacySubmitRequest, SubmitRequest


def documented_path(rule):
    """A Flask rule as OpenAPI names it: /static/<path:filename> is /static/{filename}."""
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


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
        documented_path(rule.rule)
        for rule in app.url_map.iter_rules()
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


def test_dashboard_is_a_page_shell_whose_script_and_style_are_files_of_the_package(client):
    answer = client.get("/")

    assert answer.status_code == 200
    assert answer.content_type.startswith("text/html")
    page = answer.get_data(as_text=True)
    policy = answer.headers["Content-Security-Policy"]
    # Nothing inline runs and nothing comes from elsewhere.
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy
    assert "<script>" not in page and "style=" not in page
    for external in ("http://", "https://", "//"):
        assert external not in page
    assert '<script src="static/dashboard.js" defer></script>' in page
    script = client.get("/static/dashboard.js")
    assert script.status_code == 200 and "javascript" in script.content_type
    text = script.get_data(as_text=True)
    assert "innerHTML" not in text and "insertAdjacentHTML" not in text  # job text is never HTML
    assert "fetch(" in text and '"jobs?limit=" + limit' in text and 'call("fleet")' in text
    assert client.get("/static/dashboard.css").status_code == 200


def test_error_codes_serve_the_advice_of_docs_errors_md(client):
    from nommer.core.model.error_codes import JOB_ERROR_CODES

    rows = client.get("/error-codes").get_json()["job_error_codes"]

    assert {r["code"] for r in rows} == set(JOB_ERROR_CODES)
    gave_up = next(r for r in rows if r["code"] == "GAVE_UP")
    assert gave_up["what_to_do"].startswith("Look at the encoders' logs")


def test_api_reader_serves_swagger_ui_from_the_package_and_nothing_else(client):
    page = client.get("/docs")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert '<script src="docs/swagger-ui-bundle.js" defer></script>' in text
    assert '<script src="static/reader.js" defer></script>' in text
    assert "http" not in text
    bundle = client.get("/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.get_data()) > 100_000
    assert client.get("/docs/oauth2-redirect.html").status_code == 404
    assert client.get("/docs/..%2Fflask_swagger_ui.py").status_code == 404


def test_legacy_schema_names_the_ffmpeg_nommer(client):
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    nommer = LegacySubmitRequest.model_json_schema()["$defs"]["LegacyJobOptions"]["properties"]["nommer"]

    assert schemas["LegacyJobOptions"]["properties"]["nommer"] == nommer


def test_openapi_documents_every_method_and_the_401_of_every_closed_route(app, client):
    from nommer.http.openapi import OPEN

    paths = client.get("/openapi.json").get_json()["paths"]
    for rule in app.url_map.iter_rules():
        path = documented_path(rule.rule)
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


def test_every_operation_has_a_unique_operation_id_and_a_declared_tag(client):
    doc = client.get("/openapi.json").get_json()
    declared = {t["name"] for t in doc["tags"]}
    ids = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert operation.get("operationId"), (method, path)
            assert operation.get("tags") and set(operation["tags"]) <= declared, (method, path)
            ids.append(operation["operationId"])

    assert len(ids) == len(set(ids))


def test_every_request_body_has_examples_the_models_accept(client):
    from nommer.http import models

    doc = client.get("/openapi.json").get_json()
    bodies = 0
    for operations in doc["paths"].values():
        for operation in operations.values():
            if "requestBody" not in operation:
                continue
            media = operation["requestBody"]["content"]["application/json"]
            model = getattr(models, media["schema"]["$ref"].rsplit("/", 1)[1])
            assert media["examples"]
            for example in media["examples"].values():
                model.model_validate_json(json.dumps(example["value"]))  # as parse_body does
            bodies += 1

    assert bodies == 3  # POST /jobs and both spellings of the legacy submit


def test_openapi_has_a_bearer_scheme_for_the_readers_authorize(client):
    doc = client.get("/openapi.json").get_json()

    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "One of the api_tokens setting."}
    assert doc["paths"]["/jobs/{job_id}/retry"]["post"]["responses"].keys() >= {"201", "404", "409"}


def test_openapi_document_is_valid_openapi_3_1(client):
    from openapi_spec_validator import validate

    validate(client.get("/openapi.json").get_json())
