"""An HTTP server that stands in for a slow external API and records each call's lifetime.

``GET /<name>?hold=<seconds>`` answers 200 after ``hold`` seconds; ``hold=release`` holds until the
test calls ``release()`` (at most ``RELEASE_TIMEOUT_SECONDS``), so a call outlasts whatever the
test does meanwhile however slow the machine is. Each request is recorded as
``Call(name, started, ended, completed)``; ``ended`` is when the answer was sent or when the
client went away (its process died), checked every 20 ms, so two calls of one name that overlap
in time mean the task ran twice at once.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

RELEASE_TIMEOUT_SECONDS = 120.0


@dataclass
class Call:
    name: str
    started: float
    ended: float | None = None
    completed: bool = False


class HoldServer:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                hold = parse_qs(parts.query).get("hold", ["0"])[0]
                call = Call(parts.path.strip("/"), time.monotonic())
                with server.lock:
                    server.calls.append(call)
                until_released = hold == "release"
                deadline = call.started + (RELEASE_TIMEOUT_SECONDS if until_released else float(hold))
                while time.monotonic() < deadline and not (until_released and server.released.is_set()):
                    readable, _, _ = select.select([self.connection], [], [], 0.02)
                    if readable and not self.connection.recv(1, socket.MSG_PEEK):
                        call.ended = time.monotonic()  # the client is gone
                        return
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                    call.completed = True
                except OSError:
                    pass
                call.ended = time.monotonic()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HoldServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, name: str, hold: float | None) -> str:
        """The URL of a call that holds ``hold`` seconds, or until ``release()`` if ``hold`` is None."""
        return f"http://127.0.0.1:{self.httpd.server_port}/{name}?hold={'release' if hold is None else hold}"

    def release(self) -> None:
        """Answer every call held until released, now and from now on."""
        self.released.set()

    def snapshot(self) -> list[Call]:
        with self.lock:
            return [Call(c.name, c.started, c.ended, c.completed) for c in self.calls]

    def in_flight(self) -> list[Call]:
        return [c for c in self.snapshot() if c.ended is None]

    def overlaps(self) -> list[tuple[Call, Call]]:
        """Pairs of calls of one name whose lifetimes overlap: a task running twice at once."""
        calls = sorted(self.snapshot(), key=lambda c: c.started)
        pairs = []
        for i, first in enumerate(calls):
            for second in calls[i + 1 :]:
                if second.name == first.name and (first.ended is None or second.started < first.ended):
                    pairs.append((first, second))
        return pairs
