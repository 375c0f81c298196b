"""Webhook deliveries over kept-alive connections, against real receivers on
loopback: one connection carries many deliveries; a connection the receiver
closed is replaced; the address policy, the refusal of redirects and the
certificate check hold; a long answer is not kept in memory."""

import http.client
import socket
import ssl
import subprocess
import threading
import time

import pytest

from nommer.core.feeder.connections import ConnectionPool
from nommer.core.security.netguard import AddressPolicy, AddressRefused
from nommer.testing.receiver import Receiver

from ..e2e.farm import wait_for

LOOPBACK = AddressPolicy(["127.0.0.0/8"])
HEADERS = {"Content-Type": "application/json", "User-Agent": "nommer-webhook"}


@pytest.fixture
def receivers():
    made = []

    def make(*statuses, **options):
        made.append(Receiver(statuses, **options))
        return made[-1]
    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def pool():
    pools = []

    def make(policy=LOOPBACK, **options):
        pools.append(ConnectionPool(policy, **options))
        return pools[-1]
    yield make
    for made in pools:
        made.close()


def post(pool, url, n=0):
    return pool.post(url, b'{"n": %d}' % n, HEADERS, timeout=5)


def test_deliveries_to_one_receiver_share_one_connection(receivers, pool):
    receiver, hooks = receivers(keep_alive=True), pool()

    assert [post(hooks, receiver.url, n) for n in range(5)] == [204] * 5

    assert [p["body"] for p in receiver.posts] == [b'{"n": %d}' % n for n in range(5)]
    assert receiver.connections == 1


def test_threads_delivering_at_once_each_take_their_own_connection(receivers, pool):
    receiver, hooks = receivers(keep_alive=True), pool()
    statuses = []

    def deliver(first):
        statuses.extend(post(hooks, receiver.url, first + n) for n in range(10))

    threads = [threading.Thread(target=deliver, args=(100 * t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [204] * 40 and len(receiver.posts) == 40
    assert 1 <= receiver.connections <= 4
    assert hooks.idle_count() == receiver.connections


def test_a_receiver_that_closes_each_connection_gets_a_new_one_each_time(receivers, pool):
    receiver, hooks = receivers(), pool()  # answers in HTTP/1.0: the connection ends with the answer

    assert [post(hooks, receiver.url, n) for n in range(3)] == [204] * 3

    assert receiver.connections == 3 and hooks.idle_count() == 0


def test_a_receiver_that_closes_idle_connections_still_gets_the_next_delivery(receivers, pool):
    receiver, hooks = receivers(keep_alive=True, idle_timeout=0.2), pool()
    assert post(hooks, receiver.url, 1) == 204
    wait_for(lambda: receiver.ended == 1, 5, "the receiver closing the idle connection")

    assert post(hooks, receiver.url, 2) == 204

    assert [p["body"] for p in receiver.posts] == [b'{"n": 1}', b'{"n": 2}']
    assert receiver.connections == 2


def test_a_kept_connection_closed_as_the_request_goes_out_is_retried_once_on_a_new_one(receivers, pool):
    # The receiver takes the second request of a connection and closes it
    # unanswered: the pool learns only from the missing answer.
    receiver, hooks = receivers(keep_alive=True, drop_kept=True), pool()

    assert [post(hooks, receiver.url, n) for n in range(3)] == [204] * 3

    assert [p["body"] for p in receiver.posts] == [b'{"n": %d}' % n for n in range(3)]
    assert receiver.connections == 3


def test_a_new_connection_closed_without_an_answer_is_not_retried(pool):
    accepted = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        def serve():
            conn, _ = server.accept()
            accepted.append(conn)
            conn.recv(65536)
            conn.close()

        thread = threading.Thread(target=serve)
        thread.start()
        with pytest.raises(http.client.RemoteDisconnected):
            post(pool(), f"http://127.0.0.1:{server.getsockname()[1]}/hook")
        thread.join(5)
    assert len(accepted) == 1


def test_a_refused_address_is_refused_before_any_connection(receivers, pool):
    receiver = receivers(keep_alive=True)

    with pytest.raises(AddressRefused, match="loopback"):
        post(pool(AddressPolicy()), receiver.url)

    assert receiver.connections == 0


def test_a_connection_is_kept_for_its_own_host_only(receivers, pool):
    # localhost and 127.0.0.1 reach the same receiver, but a connection made
    # (and checked) for one name never carries a request for another.
    receiver, hooks = receivers(keep_alive=True), pool()

    post(hooks, receiver.url)
    post(hooks, receiver.url.replace("127.0.0.1", "localhost"))
    post(hooks, receiver.url)

    assert receiver.connections == 2 and [p["headers"]["host"] for p in receiver.posts] == [
        f"127.0.0.1:{receiver.port}", f"localhost:{receiver.port}", f"127.0.0.1:{receiver.port}"]


def test_a_redirect_is_answered_not_followed_and_the_connection_kept(receivers, pool):
    elsewhere = receivers(keep_alive=True)
    receiver, hooks = receivers(302, 307, keep_alive=True, redirect=elsewhere.url), pool()

    assert [post(hooks, receiver.url, n) for n in range(3)] == [302, 307, 204]

    assert elsewhere.posts == [] and receiver.connections == 1


def test_an_answer_longer_than_the_cap_costs_its_connection(receivers, pool):
    hooks = pool(read_cap=1000)
    short = receivers(200, 200, keep_alive=True, answer=b"x" * 1000)
    long = receivers(200, 200, keep_alive=True, answer=b"x" * 1001)

    assert [post(hooks, short.url), post(hooks, short.url)] == [200, 200]
    assert [post(hooks, long.url), post(hooks, long.url)] == [200, 200]

    assert short.connections == 1
    assert long.connections == 2


def test_a_huge_answer_is_not_read_to_its_end(pool):
    # 64 MiB announced and sent in part: the pool reads its cap, closes,
    # and the status stands.
    with socket.create_server(("127.0.0.1", 0)) as server:
        def serve():
            conn, _ = server.accept()
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % 2**26 + b"x" * 2**20)
                    while conn.recv(65536):
                        pass
                except OSError:
                    pass  # the pool closed the connection: what this plays

        thread = threading.Thread(target=serve)
        thread.start()
        hooks = pool(read_cap=4096)
        started = time.monotonic()
        assert post(hooks, f"http://127.0.0.1:{server.getsockname()[1]}/hook") == 200
        thread.join(10)
    assert time.monotonic() - started < 5 and hooks.idle_count() == 0


def test_idle_connections_are_closed_once_idle_long_enough(receivers, pool):
    receiver, hooks = receivers(keep_alive=True), pool(idle_after=0.3)
    post(hooks, receiver.url)
    due = hooks.close_idle()
    assert hooks.idle_count() == 1 and 0 < due <= 0.3

    time.sleep(due + 0.05)
    assert hooks.close_idle() is None

    assert hooks.idle_count() == 0
    wait_for(lambda: receiver.ended == 1, 5, "the receiver seeing the connection close")


def test_a_connection_idle_too_long_is_not_reused(receivers, pool):
    receiver, hooks = receivers(keep_alive=True), pool(idle_after=0.2)
    post(hooks, receiver.url)
    time.sleep(0.3)

    post(hooks, receiver.url)

    assert receiver.connections == 2 and hooks.idle_count() == 1
    wait_for(lambda: receiver.ended == 1, 5, "the receiver seeing the old connection close")


def test_close_closes_idle_connections_and_those_in_use_when_they_end(receivers, pool):
    receiver, hooks = receivers(keep_alive=True), pool()
    post(hooks, receiver.url)

    hooks.close()
    wait_for(lambda: receiver.ended == 1, 5, "the receiver seeing the connection close")
    post(hooks, receiver.url)  # still delivers, keeps nothing

    assert hooks.idle_count() == 0
    wait_for(lambda: receiver.ended == 2, 5, "the second connection closing")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/hook", "file:///etc/passwd"])
def test_only_http_and_https_are_sent_to(pool, url):
    with pytest.raises(ValueError, match="unknown url type"):
        post(pool(), url)


# HTTPS: the certificate is checked, on kept connections as on new ones.

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    return cert, server


def test_https_to_an_unknown_certificate_is_refused(receivers, pool, certificate):
    _, server = certificate
    receiver = receivers(keep_alive=True, tls=server)

    with pytest.raises(ssl.SSLCertVerificationError):
        post(pool(), receiver.url)

    assert receiver.posts == []


def test_https_connections_are_kept_too(receivers, pool, certificate):
    cert, server = certificate
    receiver = receivers(keep_alive=True, tls=server)
    hooks = pool(context=ssl.create_default_context(cafile=str(cert)))

    assert [post(hooks, receiver.url, n) for n in range(3)] == [204] * 3
    with pytest.raises(ssl.SSLCertVerificationError):  # the name is checked: the cert is not for it
        post(pool(context=ssl.create_default_context(cafile=str(cert))),
             receiver.url.replace("127.0.0.1", "other.localhost"))

    # one connection carried the three; the one refused for its name
    # ended in the handshake, before the receiver's handler
    assert len(receiver.posts) == 3 and receiver.connections == 1
