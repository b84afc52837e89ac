"""An HTTP server that stands in for a slow external API and records each call's lifetime.

``GET /<name>?hold=<seconds>`` answers 200 after ``hold`` seconds. Each request is recorded as
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
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                hold = float(parse_qs(parts.query).get("hold", ["0"])[0])
                call = Call(parts.path.strip("/"), time.monotonic())
                with server.lock:
                    server.calls.append(call)
                deadline = call.started + hold
                while time.monotonic() < deadline:
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

    def url(self, name: str, hold: float) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/{name}?hold={hold}"

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
