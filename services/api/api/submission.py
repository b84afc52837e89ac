"""Submit a validated payload: one Lua script claims the Idempotency-Key, checks the queue, records the id, publishes.

Redis runs a script as one step: either all of it happened or none of it did. So the claim
and the publish cannot disagree. A submit that timed out (503: outcome unknown) and is
retried with the same key either finds the claim, and then its task was published, or
finds no claim and publishes. Without a key, a retry after a 503 may enqueue a second copy.

One round trip when the result backend is the broker's Redis (the usual set-up), shared with the submits of
the same event-loop turn (``api.batched_script``: auto-pipelining). With a
separate result-backend Redis the id is recorded there first, then the script runs.

Back-pressure (429, nothing enqueued) is checked in the same script (the queue's length over
all its priority lists) and from a cached ``INFO memory`` (``MemoryWatch``, one read a second).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final

import redis.asyncio
from task_contract import TaskSpec, work_ledger

from api import idempotency
from api.batched_script import BatchedScript
from api.celery_message import MessageBuilder
from api.metrics import BACKPRESSURE, BROKER_UNAVAILABLE, IDEMPOTENCY_CONFLICT, ApiMetrics
from api.priority_lists import priority_lists
from api.redis_clients import BrokerFull, BrokerUnavailable, RedisClients
from api.task_status import submitted_key

# KEYS: 1 the list to push to, 2 the idempotency key, 3 the submitted-id record, 4 the queue's work
# ledger (task_contract.work_ledger: what the autoscaler counts), 5.. the queue's lists.
# ARGV: 1 message, 2 claim ('' = no key), 3 window s, 4 record ('' = not here), 5 record TTL s, 6 max length (0 = none),
# 7 task id, 8 now (Unix s, the ledger score).
# The first lines make a second run of the same call (redis-py resends a pipeline once after a connection
# error, e.g. a failover after Redis ran it) publish nothing: the task id is new per request, so its
# record (or, with a separate result Redis, its ledger entry) exists only if this call already ran.
_SUBMIT_SCRIPT: Final = """
if ARGV[4] ~= '' then
  if redis.call('EXISTS', KEYS[3]) == 1 then return {'published'} end
elseif redis.call('ZSCORE', KEYS[4], ARGV[7]) then return {'published'} end
if ARGV[2] ~= '' then
  local held = redis.call('GET', KEYS[2])
  if held then return {'replay', held} end
end
local max_length = tonumber(ARGV[6])
if max_length > 0 then
  local length = 0
  for i = 5, #KEYS do length = length + redis.call('LLEN', KEYS[i]) end
  if length >= max_length then return {'full', tostring(length)} end
end
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[5]) end
redis.call('ZADD', KEYS[4], ARGV[8], ARGV[7])
redis.call('LPUSH', KEYS[1], ARGV[1])
return {'published'}
"""


class Backpressure(Exception):
    """The queue is over its maximum length, or Redis is near its memory limit: nothing was enqueued."""


@dataclass(frozen=True)
class Submitted:
    task_id: str
    replayed: bool


@dataclass
class MemoryWatch:
    """Redis's used memory as a fraction of ``maxmemory``, read at most once per ``interval`` seconds."""

    client: redis.asyncio.Redis
    interval: float = 1.0
    fraction: float = 0.0
    _read_at: float = field(default=float("-inf"))

    async def current(self) -> float:
        now = time.monotonic()
        if now - self._read_at >= self.interval:
            self._read_at = now  # concurrent requests use the last value meanwhile
            info = await self.client.info("memory")
            limit = int(info.get("maxmemory", 0))
            self.fraction = int(info.get("used_memory", 0)) / limit if limit else 0.0
        return self.fraction


@dataclass
class Submitter:
    """Publishes tasks (``submit``) with the limits from the API's settings, and counts the outcomes."""

    redis: RedisClients
    metrics: ApiMetrics
    messages: MessageBuilder
    memory: MemoryWatch
    idempotency_window_seconds: int
    memory_high_water: float
    max_queue_lengths: Mapping[str, int]
    new_task_id: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))
    _script: BatchedScript = field(init=False)

    def __post_init__(self) -> None:
        # Concurrent submits share a round trip (auto-pipelining, api.batched_script).
        self._script = BatchedScript(self.redis.broker_client, _SUBMIT_SCRIPT, self.redis.deadline_seconds)

    async def submit(self, spec: TaskSpec, kwargs: dict[str, Any], claim_key: str | None) -> Submitted:
        """Publish under a new id, or return the id an earlier submit with ``claim_key`` published.

        Raises ``Backpressure`` (429), ``IdempotencyConflict`` (409), ``BrokerFull`` (429) or
        ``BrokerUnavailable`` (503: outcome unknown).
        """
        try:
            submitted = await self.redis.call(partial(self._submit, spec, kwargs, claim_key), "publish")
        except idempotency.IdempotencyConflict:
            self.metrics.failed(spec, IDEMPOTENCY_CONFLICT)
            raise
        except (Backpressure, BrokerFull):
            self.metrics.failed(spec, BACKPRESSURE)
            raise
        except BrokerUnavailable:
            self.metrics.failed(spec, BROKER_UNAVAILABLE)
            raise
        counter = self.metrics.idempotent_replays if submitted.replayed else self.metrics.submissions
        counter.labels(spec.name, spec.queue).inc()
        return submitted

    async def _submit(self, spec: TaskSpec, kwargs: dict[str, Any], claim_key: str | None) -> Submitted:
        if self.memory_high_water < 1.0:
            used = await self.memory.current()
            if used >= self.memory_high_water:
                raise Backpressure(
                    f"Redis memory is {used:.0%} full, over REDIS_MEMORY_HIGH_WATER_PERCENT="
                    f"{self.memory_high_water:.0%}: nothing was enqueued; retry after Retry-After seconds"
                )
        task_id = self.new_task_id()
        # Only a claimed key is compared with a payload (a replay needs a key).
        fingerprint = idempotency.fingerprint(spec.name, kwargs) if claim_key else ""
        queue_list, message = self.messages.build(spec.name, kwargs, spec.queue, task_id)
        ttl = self.redis.settings.result_ttl_seconds
        if not self.redis.shared:
            await self.redis.results_client.set(submitted_key(task_id), spec.name, ex=ttl)
        max_length = self.max_queue_lengths.get(spec.queue, 0)
        reply = await self._script.call(
            keys=[
                queue_list,
                claim_key or "",
                submitted_key(task_id),
                work_ledger.ledger_key(spec.queue),
                *priority_lists(spec.queue),
            ],
            args=[
                message,
                idempotency.claim_record(task_id, fingerprint) if claim_key else "",
                self.idempotency_window_seconds,
                spec.name if self.redis.shared else "",
                ttl,
                max_length,
                task_id,
                time.time(),
            ],
        )
        outcome = reply[0].decode()
        if outcome == "replay":
            return Submitted(idempotency.held_task_id(reply[1], fingerprint), replayed=True)
        if outcome == "full":
            raise Backpressure(
                f"queue {spec.queue!r} holds {int(reply[1])} tasks, at its maximum length {max_length} "
                "(MAX_QUEUE_LENGTH): nothing was enqueued; retry after Retry-After seconds"
            )
        return Submitted(task_id, replayed=False)

