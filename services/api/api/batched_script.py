"""Auto-pipelining: the concurrent calls of one Lua script go to Redis together, one round trip per event-loop turn.

Each submit used to send its own EVALSHA: a connection from the pool, a command packed,
written and read, per request. Under load many requests reach Redis in the same turn of the
event loop; ``BatchedScript.call`` queues each call with a future, and one flush per turn
sends every queued call in one ``pipeline(transaction=False)`` (redis-py's own pipeline) and
hands each request its own reply or error.

What each request keeps:

- **Its own outcome.** Replies are per call: one call's script error (``OutOfMemoryError``
  at ``maxmemory``, any ``ResponseError``) is that call's exception only. A pipeline is not
  a transaction: each script runs alone and atomically, as before.
- **NOSCRIPT** (Redis restarted or flushed its script cache): the calls that got it were not
  run, so the script is loaded and exactly those calls are sent again.
- **Its deadline.** A request awaits its future under ``RedisClients.call``'s deadline, so it
  gets an answer in time whatever the batch does; a batch that fails (connection lost, Redis
  hung past the deadline) fails every call in it, and each request answers 503 (outcome
  unknown: the script may have run). A reply that arrives after its request gave up is
  dropped: that request already said "unknown", never 202.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

import redis.asyncio
from redis.exceptions import NoScriptError

Call = tuple[Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class BatchedScript:
    """``await call(keys, args)``: EVALSHA of ``script``, sent in a pipeline with the calls of the same loop turn."""

    def __init__(self, client: redis.asyncio.Redis, script: str, deadline_seconds: float) -> None:
        self.client = client
        self.script = script
        self.sha = hashlib.sha1(script.encode()).hexdigest()
        self.deadline_seconds = deadline_seconds
        self._queued: list[Call] = []
        self._flushes: set[asyncio.Task[None]] = set()  # strong references until done

    async def call(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._flush)
        self._queued.append((keys, args, reply))
        return await reply

    def _flush(self) -> None:
        batch, self._queued = self._queued, []
        flush = asyncio.get_running_loop().create_task(self._send(batch))
        self._flushes.add(flush)
        flush.add_done_callback(self._flushes.discard)

    async def _send(self, batch: list[Call]) -> None:
        try:
            async with asyncio.timeout(self.deadline_seconds):
                replies = await self._execute(batch)
        except Exception as exc:  # noqa: BLE001 - every caller gets it (RedisClients.call maps it to a 503)
            for _, _, reply in batch:
                if not reply.done():
                    reply.set_exception(exc)
            return
        except asyncio.CancelledError:  # the loop is shutting down
            for _, _, reply in batch:
                reply.cancel()
            raise
        for (_, _, reply), result in zip(batch, replies, strict=True):
            if reply.done():  # its request gave up at its deadline
                continue
            if isinstance(result, Exception):
                reply.set_exception(result)
            else:
                reply.set_result(result)

    async def _execute(self, batch: list[Call]) -> list[Any]:
        replies = await self._pipeline(batch)
        unknown = [index for index, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if unknown:  # not run: load the script, send exactly those again
            await self.client.script_load(self.script)
            for index, reply in zip(unknown, await self._pipeline([batch[i] for i in unknown]), strict=True):
                replies[index] = reply
        return replies

    async def _pipeline(self, batch: list[Call]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for keys, args, _ in batch:
            pipe.evalsha(self.sha, len(keys), *keys, *args)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies
