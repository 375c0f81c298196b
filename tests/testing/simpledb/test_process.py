"""``python -m nommer.testing.simpledb`` as a real process."""

import signal
import socket
import subprocess
import sys

import pytest


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def launch():
    """``launch(*args)`` starts the server process; any left running is killed."""
    processes = []

    def start(*args):
        process = subprocess.Popen(
            [sys.executable, "-m", "nommer.testing.simpledb", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


def test_serves_list_domains_and_stops_on_sigterm(launch, make_client, tmp_path):
    port = free_port()
    process = launch("--port", str(port), "--persist", str(tmp_path / "store.json"))
    banner = process.stdout.readline()
    assert banner.strip() == f"SimpleDB-compatible server listening on http://127.0.0.1:{port}"
    sdb = make_client(f"http://127.0.0.1:{port}")
    sdb.create_domain(DomainName="from-a-process")
    assert sdb.list_domains()["DomainNames"] == ["from-a-process"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert "stopped" in process.stdout.read()
    assert (tmp_path / "store.json").exists()


def test_port_zero_takes_a_free_port(launch, make_client):
    process = launch("--port", "0")
    url = process.stdout.readline().split()[-1]
    assert "DomainNames" not in make_client(url).list_domains()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0


def test_start_up_problems_are_sentences(launch, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("[]", encoding="utf-8")
    process = launch("--port", "0", "--persist", str(broken))
    assert process.wait(timeout=20) == 2
    assert "broken.json" in process.stderr.read()

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = launch("--port", str(taken.getsockname()[1]))
        assert process.wait(timeout=20) == 2
        assert "cannot listen" in process.stderr.read()
