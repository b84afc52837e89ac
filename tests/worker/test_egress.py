"""external_call's egress rules (worker.egress): allowed hosts, public addresses, the connection pinned.

In-process checks of the rules, then a real worker that fetches an explicitly allowed local server
and refuses Redis's port, the metadata address and a name that resolves to loopback.
"""

from __future__ import annotations

import http.server
import ipaddress
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from task_contract import BrokerSettings
from worker.app import create_app
from worker.config import WorkerSettings
from worker.egress import DestinationRefused, EgressPolicy, fetch

from tests.support.ports import free_port
from tests.support.worker_process import result_of

ANY_PUBLIC_HOST = EgressPolicy(hosts=("*",))
BODY = b"x" * 1234


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/computeMetadata/v1/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


def serve(host: str) -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    server.paths = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def local_server() -> Iterator[http.server.ThreadingHTTPServer]:
    # 127.0.0.2: loopback, but not 127.0.0.1, so allowing it does not allow Redis or the worker itself.
    yield from serve("127.0.0.2")


def resolver_of(*answers: str) -> Any:
    """A getaddrinfo stand-in that gives ``answers[n]`` on the n-th call and counts the calls."""
    calls: list[str] = []

    def resolve(host: str, port: int, **_: Any) -> list[Any]:
        calls.append(host)
        address = answers[min(len(calls), len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize(
    ("policy", "url", "reason"),
    [
        (EgressPolicy(), "https://api.example.com/", "not in EXTERNAL_CALL_ALLOWED_HOSTS (empty)"),
        (EgressPolicy(hosts=("api.example.com",)), "https://evil.example.com/", "not in EXTERNAL_CALL_ALLOWED_HOSTS"),
        (EgressPolicy(hosts=("*.example.com",)), "https://example.com.evil.net/", "not in EXTERNAL_CALL_ALLOWED_HOSTS"),
        (ANY_PUBLIC_HOST, "http://169.254.169.254/computeMetadata/v1/", "resolves to 169.254.169.254"),
        (ANY_PUBLIC_HOST, "http://[::ffff:127.0.0.1]:6379/", "resolves to ::ffff:7f00:1"),
        (ANY_PUBLIC_HOST, "http://[fd00::1]/", "resolves to fd00::1"),
        (ANY_PUBLIC_HOST, "http://100.64.0.1/", "resolves to 100.64.0.1"),  # CGNAT / Cloud NAT ranges
        (ANY_PUBLIC_HOST, "ftp://example.com/", "http(s) URLs"),
    ],
)
def test_refused_destinations_name_the_rule_and_the_variable(policy, url, reason):
    with pytest.raises(DestinationRefused) as caught:
        policy.pinned_address(url)  # IP literals resolve to themselves; host names fail before DNS
    assert reason in str(caught.value)


def test_a_name_resolving_to_a_private_address_is_refused_after_dns():
    policy = EgressPolicy(hosts=("internal.example.com",))
    with pytest.raises(DestinationRefused, match="resolves to 10.1.2.3.*EXTERNAL_CALL_ALLOWED_NETWORKS"):
        policy.pinned_address("https://internal.example.com/", resolver_of("10.1.2.3"))
    allowed = EgressPolicy(hosts=("internal.example.com",), networks=(ipaddress.ip_network("10.1.0.0/16"),))
    assert allowed.pinned_address("https://internal.example.com/", resolver_of("10.1.2.3")) == "10.1.2.3"
    assert EgressPolicy(hosts=("*.example.com",)).pinned_address("https://a.example.com/", resolver_of("8.8.8.8"))


def test_the_connection_goes_to_the_checked_address_not_a_second_dns_answer(local_server):
    port = local_server.server_address[1]
    policy = EgressPolicy(hosts=("rebind.example.com",), networks=(ipaddress.ip_network("127.0.0.2/32"),))
    # A rebinding DNS: the checked answer, then Redis's address for any later lookup.
    resolve = resolver_of("127.0.0.2", "127.0.0.1")

    status, body = fetch(policy, f"http://rebind.example.com:{port}/thing?q=1", 5, 10_000, resolve)

    assert (status, len(body)) == (200, len(BODY))
    assert resolve.calls == ["rebind.example.com"] and local_server.paths == ["/thing?q=1"]


def test_a_redirect_is_returned_not_followed(local_server):
    port = local_server.server_address[1]
    policy = EgressPolicy(hosts=("127.0.0.2",), networks=(ipaddress.ip_network("127.0.0.2/32"),))
    assert fetch(policy, f"http://127.0.0.2:{port}/redirect", 5, 10_000) == (302, b"")


def test_external_call_retries_an_unreachable_allowed_url_a_bounded_number_of_times():
    settings = WorkerSettings(external_call_allowed_hosts="127.0.0.2", external_call_allowed_networks="127.0.0.2")
    app = create_app(BrokerSettings(), settings)
    result = app.tasks["external_call"].apply(kwargs={"url": f"http://127.0.0.2:{free_port()}/"})
    assert result.failed() and isinstance(result.result, ConnectionRefusedError)
    assert app.tasks["external_call"].max_retries == 3


@pytest.mark.slow
def test_a_real_worker_fetches_only_what_is_allowed(redis_server, worker_factory, client, local_server):
    port = local_server.server_address[1]
    worker = worker_factory(
        redis_server, EXTERNAL_CALL_ALLOWED_HOSTS="*", EXTERNAL_CALL_ALLOWED_NETWORKS="127.0.0.2/32"
    )
    allowed = client.send_task("external_call", kwargs={"url": f"http://127.0.0.2:{port}/v1/thing"})
    refused = {
        "loopback Redis": (f"http://127.0.0.1:{redis_server.port}/", "resolves to 127.0.0.1"),
        "metadata": ("http://169.254.169.254/computeMetadata/v1/", "resolves to 169.254.169.254"),
        "name to loopback": (f"http://localhost:{port}/", "'localhost': it resolves to"),
    }
    sent = {name: client.send_task("external_call", kwargs={"url": url}) for name, (url, _) in refused.items()}

    assert result_of(client, allowed.id, 30) == {"status": 200, "bytes": len(BODY), "latency_seconds": pytest.approx(0, abs=5)}
    for name, (_, reason) in refused.items():
        with pytest.raises(AssertionError, match="FAILURE") as caught:
            result_of(client, sent[name].id, 30)
        assert "DestinationRefused" in str(caught.value) or reason in str(caught.value), name
        assert reason in str(caught.value), (name, str(caught.value))
    assert local_server.paths == ["/v1/thing"]
    assert "Retry in" not in worker.output(), "a refused destination must fail at once, not retry"
