"""GET /jobs/<id>, GET /jobs and POST /jobs/<id>/cancel."""

import pytest

from nommer.core.model.jobs import State


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


def finish(store, job_id, final=State.FINISHED):
    job = store.get(job_id)
    path = {State.FINISHED: (State.DOWNLOADING, State.ENCODING, State.UPLOADING, State.FINISHED),
            State.ERROR: (State.DOWNLOADING, State.ERROR)}.get(final, (final,))
    for state in path:
        job = store.update(job.transition(state))
    return job


@pytest.mark.parametrize("final", [State.FINISHED, State.ERROR, State.CANCELED, State.ABANDONED])
def test_retry_of_a_finished_job_submits_a_copy(client, submit, store, stored_jobs, final):
    old = submit(notify_url="https://example.com/hook", progress_events=True)
    finish(store, old["id"], final)

    answer = client.post(f"/jobs/{old['id']}/retry")

    assert answer.status_code == 201, answer.get_json()
    new = answer.get_json()
    assert answer.headers["Location"] == f"/jobs/{new['id']}"
    assert new["id"] != old["id"] and new["state"] == "PENDING"
    assert new["links"]["retry"] is None and new["links"]["cancel"] == f"/jobs/{new['id']}/cancel"
    for key in ("source", "notify_url", "progress_events"):
        assert new[key] == old[key]
    assert [(o["destination"], o["preset"], o["state"]) for o in new["outputs"]] == [
        (o["destination"], o["preset"], "PENDING") for o in old["outputs"]]
    assert store.get(old["id"]).state == final  # the old job stays as it was
    assert stored_jobs() == 2


def test_retry_of_an_unfinished_job_is_409_and_creates_nothing(client, submit, store, stored_jobs):
    job = submit()
    store.update(store.get(job["id"]).transition(State.DOWNLOADING))

    answer = client.post(f"/jobs/{job['id']}/retry")

    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "INVALID_TRANSITION"
    assert answer.get_json()["error"]["field"] == "job_id"
    assert "DOWNLOADING" in answer.get_json()["error"]["message"]
    assert stored_jobs() == 1


@pytest.mark.parametrize("job_id", ["0123456789abcdef0123", "not-an-id"])
def test_retry_of_an_unknown_job_is_404(client, job_id, stored_jobs):
    answer = client.post(f"/jobs/{job_id}/retry")

    assert answer.status_code == 404
    assert answer.get_json()["error"]["field"] == "job_id"
    assert stored_jobs() == 0


def test_retry_keeps_sealed_credentials_sealed(client, post, media, store, box):
    source = "https://user:pa55word@example.com/in.mov"
    answer = post("/jobs", {"source": source, "outputs": [
        {"destination": (media / "out" / "x.mp4").as_uri(), "preset": "mp4-h264-480p"}]})
    assert answer.status_code == 201, answer.get_json()
    old = answer.get_json()
    finish(store, old["id"], State.CANCELED)

    new = client.post(f"/jobs/{old['id']}/retry").get_json()

    stored = store.get(new["id"])
    assert "pa55word" not in stored.source and "pa55word" not in new["source"]
    assert box.open(stored.sealed)["source"] == source


def test_retry_checks_the_submission_again(client, store, stored_jobs, dest):
    # A job stored before the farm's roots changed: its source is now refused.
    from nommer.core.model.jobs import Job

    old = store.create(Job.new("file:///etc/hostname", [{"destination": dest, "preset": "mp4-h264-480p"}]))
    finish(store, old.id, State.CANCELED)

    answer = client.post(f"/jobs/{old.id}/retry")

    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["error"]["field"] == "source"
    assert stored_jobs() == 1


def test_job_history_lists_each_state_entered(client, submit, store):
    job = submit()
    finish(store, job["id"], State.ERROR)

    history = client.get(f"/jobs/{job['id']}").get_json()["history"]

    assert [state for state, _ in history] == ["PENDING", "DOWNLOADING", "ERROR"]
    assert [at for _, at in history] == sorted(at for _, at in history)
    assert history[0][1] == job["created_at"]
