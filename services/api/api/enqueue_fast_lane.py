"""The enqueue hot path in plain code: a well-formed enqueue is answered before FastAPI's routing and dependencies.

FastAPI's dependency solving (auth, headers, body), its routing and the middleware between them
were most of an enqueue's CPU (docs/benchmarks.md, benchmark (a)). ``EnqueueFastLane`` sits
inside the trace and body-size middlewares and takes only a request that FastAPI's own
handler would accept the same way:

- ``POST`` to a task's enqueue path (``/v1/tasks/<name>`` of a known task, no root path);
- a valid bearer API key (``auth.api_key_caller``: not a Google ID token);
- ``Content-Type: application/json`` exactly;
- no Idempotency-Key or a well-formed one, and no Cloud Scheduler header;
- a body that is a JSON object the task's payload model validates as FastAPI validates a body.

Anything else, every error included, goes on to FastAPI with the body replayed, and is answered
exactly as before: status codes, the 422 detail shape and the OpenAPI schema (``routes.tasks``)
do not change. ``tests/api/test_enqueue_fast_path.py`` sends the same requests with and without
the lane and compares the answers. The submit's own errors (409, 429, 503) go to the app's
exception handlers, as they would from the route.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from task_contract import TASKS
from task_contract.catalog import Payload

from api import auth, idempotency
from api.collaborators import app_submitter
from api.edge_payload import edge_payload_model
from api.routes.tasks import SCHEDULER_JOB_HEADER, SCHEDULER_TIME_HEADER, publish, router

# Headers only FastAPI's solving checks (max_length; trusted from a scheduler identity only).
_SCHEDULER_HEADERS: Final = (SCHEDULER_JOB_HEADER, SCHEDULER_TIME_HEADER)
# idempotency.KEY_PATTERN, whole string: a key that passes this passes FastAPI's header validation.
_IDEMPOTENCY_KEY: Final = re.compile(idempotency.KEY_PATTERN.removeprefix("^").removesuffix("$"))


class EnqueueFastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # FastAPI validates a body field with from_attributes=True (fastapi._compat ModelField.validate).
        self._payloads = {
            f"{router.prefix}/{name}": (spec, TypeAdapter(edge_payload_model(spec))) for name, spec in TASKS.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = self._payloads.get(scope.get("path", "")) if scope["type"] == "http" else None
        if task is None or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        headers = request.headers
        caller = auth.api_key_caller(request)
        key = headers.get("idempotency-key")
        if (
            caller is None
            or headers.get("content-type") != "application/json"
            or (key is not None and not _IDEMPOTENCY_KEY.fullmatch(key))
            or any(name in headers for name in _SCHEDULER_HEADERS)
        ):
            await self.app(scope, receive, send)
            return
        body = await request.body()
        payload = _validated(task[1], body)
        if payload is None:
            await self.app(scope, _replay(body, receive), send)
            return
        try:
            response = await publish(task[0], payload, caller, await app_submitter(request), key)
        except Exception as exc:
            handler = _handler(scope["app"].exception_handlers, exc)
            if handler is None:
                raise  # the app's 500 handler (ServerErrorMiddleware), as from the route
            response = await handler(request, exc)
        await response(scope, receive, send)


def _validated(model: TypeAdapter[Payload], body: bytes) -> Payload | None:
    """The payload, if FastAPI would read and validate ``body`` to the same; else None (FastAPI answers)."""
    try:
        data = json.loads(body)  # what FastAPI's handler reads (Request.json)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested too deeply: FastAPI says which
        return None
    if not isinstance(data, dict):
        return None
    try:
        return model.validate_python(data, from_attributes=True)
    except ValidationError:
        return None


def _handler(handlers: dict[Any, Any], exc: Exception) -> Any:
    """The app's handler for ``exc``, as Starlette's ExceptionMiddleware finds it (by the class's MRO)."""
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None  # ServerErrorMiddleware's, reached by raising
        if cls in handlers:
            return handlers[cls]
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the app the body already read, then the connection's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
