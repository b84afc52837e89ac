"""Each request's log lines name its Cloud Trace (``logging.googleapis.com/trace``).

Cloud Run's front end adds ``X-Cloud-Trace-Context`` (and passes a client's W3C ``traceparent``);
Cloud Logging then groups the request log and the app's lines of one request. A pure ASGI
middleware, so the access line, logged by uvicorn after the app returns, is inside it too.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send
from task_contract.cloud_logging import TRACE_FIELD, log_fields, trace_name


class TraceContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cloud_trace = traceparent = None
        for name, value in scope["headers"]:  # the two it needs, not a dict of all (a cost per request)
            if name == b"x-cloud-trace-context":
                cloud_trace = value.decode("latin-1")
            elif name == b"traceparent":
                traceparent = value.decode("latin-1")
        trace = trace_name(cloud_trace, traceparent)
        if trace is None:
            await self.app(scope, receive, send)
            return
        with log_fields(**{TRACE_FIELD: trace}):
            await self.app(scope, receive, send)
