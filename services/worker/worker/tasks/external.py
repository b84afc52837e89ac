"""An I/O-bound call to an external API (the seeds' AI and HTTP calls): mostly waiting.

With a ``url`` it GETs it, within the egress rules of ``worker.egress`` (allowed hosts, public
addresses only, connection pinned to the checked address); without, it waits ``latency_seconds``
to stand in for the API's latency. Network failures retry with bounded exponential backoff; a
refused destination fails at once.
"""

from __future__ import annotations

import http.client
import socket
import time
from typing import Any, Final

from task_contract.catalog import ExternalCallPayload

from worker.egress import EgressPolicy, fetch
from worker.tasks.contract import contract_task, validated

# Bounds one HTTP call; the threads pool does not enforce Celery's time limits, so the task must.
HTTP_TIMEOUT_SECONDS: Final = 30
MAX_BODY_BYTES: Final = 1_000_000


@contract_task(
    "external_call",
    # Long enough that callers want to see STARTED (GET /v1/tasks/{id}) while it runs.
    track_started=True,
    autoretry_for=(ConnectionError, TimeoutError, socket.gaierror, http.client.HTTPException),
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=3,
)
def external_call(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    payload = validated(ExternalCallPayload, "external_call", args, kwargs)
    started = time.monotonic()
    if payload.url is None:
        time.sleep(payload.latency_seconds)
        return {"latency_seconds": round(time.monotonic() - started, 3)}
    policy = self.app.conf.get("external_call_egress") or EgressPolicy()
    status, body = fetch(policy, payload.url, HTTP_TIMEOUT_SECONDS, MAX_BODY_BYTES)
    return {"status": status, "bytes": len(body), "latency_seconds": round(time.monotonic() - started, 3)}
