from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable

# Below Linux's ephemeral range (ip_local_port_range, 32768-60999 by default): a port picked by
# bind(0) can be taken as the source port of any outgoing connection before the server under
# test binds it, which parallel test runs (pytest-xdist) make likely. Ports from here are not.
LISTEN_PORTS = range(20000, 32768)


def free_port() -> int:
    """A loopback port nothing listens on now, picked at random so concurrent tests rarely meet."""
    for port in random.sample(LISTEN_PORTS, 50):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free loopback port among 50 tried in {LISTEN_PORTS}")


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``predicate`` until it is true; raise AssertionError naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # a probe that raises just means "not yet"
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}")
