"""Idempotency-Key: a retried submit gets the first submit's task id and is not enqueued twice.

The first request with a key claims it for ``window`` seconds: key -> task id and a
fingerprint of the task name and payload, written by the same Lua script that publishes the
task (``submission``), so a claim exists exactly when its task was published. A later
request with the same key (and the same caller) within the window gets that task id back.
Reusing a key for a different payload is a client bug and is refused (409) rather than
silently answered with the wrong task.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

from api.auth import Caller

# Printable ASCII, no spaces: what clients send (UUIDs, ULIDs, hashes), safe to log.
KEY_PATTERN: Final = r"^[!-~]{1,255}$"

_PREFIX: Final = "cloudrun_celery:idempotency"


class IdempotencyConflict(Exception):
    """The key was already used, within the window, for a different task or payload."""


def storage_key(caller: Caller, task_name: str, idempotency_key: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return f"{_PREFIX}:{caller.key_id}:{task_name}:{digest}"


def fingerprint(task_name: str, kwargs: dict[str, Any]) -> str:
    canonical = json.dumps([task_name, kwargs], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim_record(task_id: str, payload_fingerprint: str) -> str:
    """What a claimed key holds."""
    return json.dumps({"task_id": task_id, "fingerprint": payload_fingerprint})


def held_task_id(record: bytes, payload_fingerprint: str) -> str:
    """The task id a claimed key holds, if it was claimed for the same task and payload."""
    held = json.loads(record)
    if held["fingerprint"] != payload_fingerprint:
        raise IdempotencyConflict(
            "Idempotency-Key was already used for a different task or payload "
            f"(task {held['task_id']}); send a new key for a new submission"
        )
    return str(held["task_id"])
