"""GET /jobs/<id>, GET /jobs and POST /jobs/<id>/cancel."""

import pytest

from nommer.core.jobs import State


def test_get_answers_the_stored_job(client, submit):
    job = submit()

    answer = client.get(f"/jobs/{job['id']}")

    assert answer.status_code == 200
    assert answer.get_json() == job


def test_get_of_an_unknown_id_is_404(client):
    answer = client.get("/jobs/0123456789abcdef0123")

    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("job_id", ["nope", "0123456789ABCDEF0123", "0123456789abcdef01234", "'; DROP TABLE jobs;--", "x" * 500])
def test_get_of_something_that_is_not_an_id_is_404(client, job_id):
    answer = client.get(f"/jobs/{job_id}")

    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "NOT_FOUND"
    assert len(answer.get_json()["error"]["message"]) < 200


def test_list_answers_jobs_newest_first(client, submit):
    first, second = submit(), submit()

    answer = client.get("/jobs")

    assert answer.status_code == 200
    assert [j["id"] for j in answer.get_json()["jobs"]] == [second["id"], first["id"]]
    assert answer.get_json()["next_cursor"] is None


def test_list_pages_with_the_cursor(client, submit):
    ids = [submit()["id"] for _ in range(5)][::-1]

    seen, cursor = [], None
    for _ in range(5):
        query = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        page = client.get("/jobs", query_string=query).get_json()
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == ids


def test_list_filters_by_state(client, submit, api):
    pending, canceled = submit(), submit()
    api.cancel(canceled["id"])

    only_canceled = client.get("/jobs?state=CANCELED").get_json()["jobs"]
    both = client.get("/jobs?state=pending,canceled").get_json()["jobs"]

    assert [j["id"] for j in only_canceled] == [canceled["id"]]
    assert {j["id"] for j in both} == {pending["id"], canceled["id"]}


def test_empty_query_values_mean_the_defaults(client, submit):
    job = submit()

    answer = client.get("/jobs?state=&limit=&cursor=")

    assert answer.status_code == 200
    assert [j["id"] for j in answer.get_json()["jobs"]] == [job["id"]]


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-5", "limit"),
        ("limit=ten", "limit"),
        ("limit=2.5", "limit"),
        ("state=DONE", "state"),
        ("state=PENDING,LOST", "state"),
        ("cursor=not-a-cursor", "cursor"),
        ("sort=asc", "sort"),
    ],
)
def test_a_bad_query_is_refused_naming_the_parameter(client, submit, query, field):
    submit()

    answer = client.get(f"/jobs?{query}")

    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["error"]["field"] == field
    assert answer.get_json()["error"]["message"].startswith(f"{field}: ")


def test_cancel_cancels_then_refuses_a_second_time(client, submit, store):
    job = submit()

    first = client.post(f"/jobs/{job['id']}/cancel")
    second = client.post(f"/jobs/{job['id']}/cancel")

    assert first.status_code == 200
    assert first.get_json()["state"] == "CANCELED"
    assert first.get_json()["links"]["cancel"] is None
    assert second.status_code == 409
    assert second.get_json()["error"]["code"] == "INVALID_TRANSITION"
    assert store.get(job["id"]).state == State.CANCELED


def test_cancel_of_a_finished_job_is_409(client, submit, store):
    job_id = submit()["id"]
    job = store.get(job_id)
    for state in (State.DOWNLOADING, State.ENCODING, State.UPLOADING, State.FINISHED):
        job = store.update(job.transition(state))

    answer = client.post(f"/jobs/{job_id}/cancel")

    assert answer.status_code == 409
    assert "FINISHED" in answer.get_json()["error"]["message"]
    assert store.get(job_id).state == State.FINISHED


@pytest.mark.parametrize("job_id", ["0123456789abcdef0123", "not-an-id"])
def test_cancel_of_an_unknown_job_is_404(client, job_id):
    answer = client.post(f"/jobs/{job_id}/cancel")

    assert answer.status_code == 404
