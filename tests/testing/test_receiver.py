"""The tests' webhook receiver keeps what it is sent and answers as told."""

import json
import threading
import urllib.error
import urllib.request

from nommer.testing.receiver import Receiver

from ..e2e.farm import wait_for


def post(url, body, content_type="application/json"):
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": content_type, "X-Note": "n1"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as e:
        return e.code


def test_it_keeps_each_post_and_answers_the_planned_statuses_then_204():
    with Receiver((500, 410), verify=lambda headers, body: headers["x-note"] == "n1") as receiver:
        statuses = [post(receiver.url + "?job=a", json.dumps({"job_id": "j", "state": s}).encode())
                    for s in ("PENDING", "ENCODING", "FINISHED")]
        post(receiver.url, b"unique_id=j&job_state=ERROR", "application/x-www-form-urlencoded")

    assert statuses == [500, 410, 204] and len(receiver) == 4
    first = receiver.posts[0]
    assert first["path"] == "/hook?job=a" and first["type"] == "application/json"
    assert first["headers"]["x-note"] == "n1" and first["verified"] is True
    assert first["text"] == first["body"].decode() == '{"job_id": "j", "state": "PENDING"}'
    assert receiver.states("j") == ["PENDING", "ENCODING", "FINISHED"]  # forms are not JSON
    assert receiver.posts[-1]["text"] == "unique_id=j&job_state=ERROR"


def test_a_held_first_delivery_waits_for_release():
    with Receiver(hold_first=True) as receiver:
        answered = []
        first = threading.Thread(target=lambda: answered.append(post(receiver.url, b"{}")))
        first.start()
        wait_for(lambda: len(receiver) == 1, 5, "the first delivery")
        assert post(receiver.url, b"{}") == 204  # a later one is not held
        first.join(0.3)
        assert answered == [] and len(receiver) == 2
        receiver.release.set()
        first.join(5)
        assert answered == [204]


def test_a_redirect_is_answered_with_its_location():
    with Receiver((302,), redirect="http://127.0.0.1:9/elsewhere") as receiver:
        opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,),
                                                  {"redirect_request": lambda *a: None}))
        try:
            opener.open(urllib.request.Request(receiver.url, data=b"{}", method="POST"), timeout=10)
        except urllib.error.HTTPError as e:
            status, location = e.code, e.headers["Location"]
    assert (status, location) == (302, "http://127.0.0.1:9/elsewhere")


def test_a_post_cut_off_before_its_whole_body_is_not_kept():
    import socket

    with Receiver() as receiver:
        with socket.create_connection(("127.0.0.1", receiver.port)) as sender:
            sender.sendall(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 100\r\n\r\n{\"job_id\": \"j\"")
        whole = post(receiver.url, json.dumps({"job_id": "j", "state": "FINISHED"}).encode())

        assert whole == 204
        assert wait_for(lambda: receiver.states("j") == ["FINISHED"], 5, "the whole post")
        assert len(receiver) == 1
