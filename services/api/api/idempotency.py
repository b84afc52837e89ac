"""Idempotency-Key: a retried submit gets the first submit's task id and is not enqueued twice.

The first request with a key claims it with ``SET NX EX window``: key -> task id and a
fingerprint of the task name and payload. A later request with the same key (and the same
caller) within the window gets that task id back. Reusing a key for a different payload
is a client bug and is refused (422) rather than silently answered with the wrong task.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio

from api.auth import Caller

# Printable ASCII, no spaces: what clients send (UUIDs, ULIDs, hashes), safe to log.
KEY_PATTERN: Final = r"^[!-~]{1,255}$"

_PREFIX: Final = "cloudrun_celery:idempotency"

# Deletes the claim only if it still names the task we failed to publish.
_RELEASE_SCRIPT: Final = """
local value = redis.call('GET', KEYS[1])
if value and cjson.decode(value)['task_id'] == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class IdempotencyConflict(Exception):
    """The key was already used, within the window, for a different task or payload."""


@dataclass(frozen=True)
class Claim:
    task_id: str
    replayed: bool


def storage_key(caller: Caller, task_name: str, idempotency_key: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return f"{_PREFIX}:{caller.key_id}:{task_name}:{digest}"


def fingerprint(task_name: str, kwargs: dict[str, Any]) -> str:
    canonical = json.dumps([task_name, kwargs], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    client: redis.asyncio.Redis, key: str, task_id: str, payload_fingerprint: str, window_seconds: int
) -> Claim:
    """Claim ``key`` for ``task_id``, or return the task id that already holds it.

    SET NX and GET go in one pipeline (one round trip): if the SET won, the GET reads our
    own record back; if it lost, the holder's.
    """
    record = json.dumps({"task_id": task_id, "fingerprint": payload_fingerprint})
    for _ in range(2):  # the holder may expire between our SET and GET: then claim again
        pipe = client.pipeline(transaction=False)
        pipe.set(key, record, nx=True, ex=window_seconds)
        pipe.get(key)
        won, existing = await pipe.execute()
        if won:
            return Claim(task_id=task_id, replayed=False)
        if existing is not None:
            held = json.loads(existing)
            if held["fingerprint"] != payload_fingerprint:
                raise IdempotencyConflict(
                    "Idempotency-Key was already used for a different task or payload "
                    f"(task {held['task_id']}); send a new key for a new submission"
                )
            return Claim(task_id=str(held["task_id"]), replayed=True)
    raise IdempotencyConflict("Idempotency-Key is being claimed and released concurrently; retry")


async def release(client: redis.asyncio.Redis, key: str, task_id: str) -> None:
    """Give the key up after a failed publish, so the client's retry publishes for real."""
    await client.eval(_RELEASE_SCRIPT, 1, key, task_id)
