"""Where nommer's own HTTP requests may go: the address policy at submit
time and on every real connection, against HTTP servers on loopback."""

import http.server
import ipaddress
import threading
import urllib.error
import urllib.request

import pytest

from nommer.core.adapters.local_storage import HttpStorage
from nommer.core.errors import InvalidInput, JobFailed
from nommer.core.security.netguard import AddressPolicy, AddressRefused, opener, parse_ip


@pytest.mark.parametrize("host, ip", [
    ("127.0.0.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),  # decimal
    ("0177.0.0.1", "127.0.0.1"),  # octal
    ("0x7f.0.0.1", "127.0.0.1"),  # hex
    ("0x7f.1", "127.0.0.1"),  # short form
    ("127.1", "127.0.0.1"),
    ("[::1]", "::1"),
    ("::ffff:169.254.169.254", "::ffff:a9fe:a9fe"),
    ("fe80::1%eth0", "fe80::1"),
    ("example.com", None),
    ("cafe.bad", None),  # hex letters only, still a name
])
def test_every_spelling_of_an_address_is_read_as_one(host, ip):
    found = parse_ip(host)
    assert (str(found) if found else None) == ip


@pytest.mark.parametrize("ip, reason", [
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("2002:7f00:1::1", "loopback"),  # 6to4 around 127.0.0.1
    ("169.254.169.254", "cloud metadata"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("fd00:ec2::254", "cloud metadata"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("100.64.0.1", "not a public address"),  # carrier-grade NAT
    ("224.0.0.251", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("240.0.0.1", "private"),
])
def test_non_public_addresses_are_refused(ip, reason):
    assert reason in AddressPolicy().refusal(ip)


@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(ip):
    assert AddressPolicy().refusal(ip) is None


def test_allowed_networks_open_exactly_what_they_list():
    policy = AddressPolicy(["127.0.0.0/8", "fd00:1::/32"])
    assert policy.refusal("127.0.0.5") is None
    assert policy.refusal("::ffff:127.0.0.5") is None  # mapped is the same address
    assert policy.refusal("fd00:1::9") is None
    assert "private" in policy.refusal("10.0.0.1")
    assert "cloud metadata" in policy.refusal("169.254.169.254")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/x", "http://2130706433/x", "http://0x7f.1/x", "http://0177.0.0.1:8080/x",
    "http://[::1]/x", "http://[::ffff:127.0.0.1]/x", "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/", "https://localhost/x", "https://api.localhost/x",
    "http://user:pw@10.1.2.3/x",
])
def test_submit_time_check_names_the_field_and_the_reason(url):
    with pytest.raises(InvalidInput) as e:
        AddressPolicy().check_url(url, "notify_url")
    assert e.value.field == "notify_url"
    assert "allowed_networks" in str(e.value)
    assert "pw" not in str(e.value)


def test_a_name_that_does_not_resolve_now_is_left_to_the_connection():
    AddressPolicy().check_url("https://cdn.example/master.mov", "source")


class _Server:
    """A loopback HTTP server on ``host`` that records requests; ``routes``
    maps a path to (status, headers, body)."""

    def __init__(self, host="127.0.0.1", routes=None):
        self.requests = []
        seen, table = self.requests, routes or {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append({"path": self.path, "headers": dict(self.headers)})
                status, headers, body = table.get(self.path, (404, {}, b""))
                if callable(body):
                    status, headers, body = body(self)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.base = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers():
    made = []

    def make(*args, **kwargs):
        made.append(_Server(*args, **kwargs))
        return made[-1]

    yield make
    for server in made:
        server.close()


def test_a_loopback_source_is_refused_on_the_connection_and_never_reached(servers, tmp_path):
    server = servers(routes={"/clip": (200, {}, b"data")})
    storage = HttpStorage(AddressPolicy())

    with pytest.raises(JobFailed) as e:
        storage.fetch(server.base + "/clip", tmp_path / "x")

    assert e.value.code == "SOURCE_UNSAFE"
    assert "loopback" in str(e.value)
    assert server.requests == []


def test_a_redirect_to_a_refused_address_is_not_followed(servers, tmp_path):
    inner = servers(host="127.0.0.2", routes={"/secret": (200, {}, b"internal")})
    outer = servers(routes={"/clip": (302, {"Location": inner.base + "/secret"}, b"")})
    storage = HttpStorage(AddressPolicy(["127.0.0.1/32"]))  # the first hop only

    with pytest.raises(JobFailed) as e:
        storage.fetch(outer.base + "/clip", tmp_path / "x")

    assert e.value.code == "SOURCE_UNSAFE" and "127.0.0.2" in str(e.value)
    assert len(outer.requests) == 1 and inner.requests == []


def test_a_redirect_to_a_file_url_is_not_followed(servers, tmp_path):
    outer = servers(routes={"/clip": (302, {"Location": "file:///etc/passwd"}, b"")})
    storage = HttpStorage(AddressPolicy(["127.0.0.0/8"]))

    with pytest.raises(JobFailed) as e:
        storage.fetch(outer.base + "/clip", tmp_path / "x")

    assert not (tmp_path / "x").exists() or b"root" not in (tmp_path / "x").read_bytes()
    assert "302" in str(e.value)


class _RebindingPolicy(AddressPolicy):
    """DNS that answers a public address first and loopback after, as a
    rebinding attacker's name server does (no real name server here)."""

    def __init__(self, allowed=()):
        super().__init__(allowed)
        self.answers = [ipaddress.ip_address("93.184.216.34")]

    def addresses(self, host, port=None, resolve=True):
        if host != "rebind.test":
            return super().addresses(host, port, resolve)
        answer = self.answers.pop(0) if self.answers else ipaddress.ip_address("127.0.0.1")
        return [answer]


def test_dns_rebinding_is_caught_on_the_connection(servers, tmp_path):
    server = servers(routes={"/clip": (200, {}, b"data")})
    port = server.server.server_address[1]
    policy = _RebindingPolicy()
    url = f"http://rebind.test:{port}/clip"

    policy.check_url(url, "source")  # at submit time the name looked public
    with pytest.raises(urllib.error.URLError) as e:
        opener(policy).open(url, timeout=5)

    assert isinstance(e.value.reason, AddressRefused)
    assert "rebind.test resolves to 127.0.0.1" in str(e.value.reason)
    assert server.requests == []


def test_basic_auth_from_the_uri_goes_to_its_host_only(servers, tmp_path):
    other = servers(host="127.0.0.2", routes={"/clip": (200, {}, b"video bytes")})

    def guarded(handler):
        if handler.headers.get("Authorization") != "Basic dXNlcjpwQHNz":  # user:p@ss
            return 401, {"WWW-Authenticate": "Basic"}, b""
        return 302, {"Location": other.base + "/clip"}, b""

    first = servers(routes={"/clip": (0, {}, guarded)})
    storage = HttpStorage(AddressPolicy(["127.0.0.0/8"]))
    url = first.base.replace("http://", "http://user:p%40ss@") + "/clip"

    assert storage.fetch(url, tmp_path / "x") == len(b"video bytes")

    assert first.requests[0]["headers"]["Authorization"] == "Basic dXNlcjpwQHNz"
    assert "Authorization" not in other.requests[0]["headers"]


def test_proxies_in_the_environment_are_not_used(servers, monkeypatch, tmp_path):
    server = servers(routes={"/clip": (200, {}, b"direct")})
    monkeypatch.setenv("http_proxy", "http://10.9.9.9:3128")
    storage = HttpStorage(AddressPolicy(["127.0.0.0/8"]))

    assert storage.fetch(server.base + "/clip", tmp_path / "x") == 6


def test_the_guarded_opener_has_no_file_or_ftp_handler():
    with pytest.raises(urllib.error.URLError, match="unknown url type"):
        opener(AddressPolicy()).open("file:///etc/passwd")
    assert not any(isinstance(h, (urllib.request.FileHandler, urllib.request.FTPHandler))
                   for h in opener(AddressPolicy()).handlers)


@pytest.mark.parametrize("url", [
    "http://%31%32%37.0.0.1:8080/x.mp4",  # percent-encoded loopback
    "http://%6c%6f%63%61%6c%68%6f%73%74/x.mp4",  # percent-encoded "localhost"
    "http://\u2460\u2461\u2466.0.0.1/x.mp4",  # circled digits: IDNA maps them to 127.0.0.1
    "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/x.mp4",  # fullwidth "localhost"
    "http://169.254.169.254./latest/",  # trailing dot
    "http://0x7f.1/x.mp4",
])
def test_a_host_is_read_as_the_resolver_reads_it_at_submit_time(url):
    with pytest.raises(InvalidInput) as e:
        AddressPolicy().check_url(url, "source")
    assert e.value.field == "source" and "allowed_networks" in str(e.value)


@pytest.mark.parametrize("host", ["%31%32%37.0.0.1", "\u2460\u2461\u2466.0.0.1"])
def test_the_connection_check_reads_the_host_the_same_way(host):
    # Refused for what it is (loopback), not merely for failing to resolve.
    with pytest.raises(AddressRefused, match="loopback"):
        AddressPolicy().create_connection((host, 9))


def test_a_listed_network_opens_the_normalised_host_too():
    AddressPolicy(["127.0.0.0/8"]).check_url("http://%31%32%37.0.0.1:8080/x.mp4", "source")
