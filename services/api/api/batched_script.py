"""Auto-pipelining: the concurrent calls of one Lua script go to Redis together, one round trip per event-loop turn.

Each submit used to send its own EVALSHA: a connection from the pool, a command packed,
written and read, per request. Under load many requests reach Redis in the same turn of the
event loop; ``BatchedScript.call`` queues each call with a future, and one flush per turn
sends every queued call in one write on one pooled connection (a pipeline, not a transaction;
each EVALSHA packed by hiredis in C, replies read by redis-py) and hands each request its own
reply or error.

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
from collections.abc import Sequence
from typing import Any

import hiredis
import redis.asyncio
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import NoScriptError, ResponseError

# A call: its EVALSHA packed in the Redis protocol, and the future its request awaits.
Call = tuple[bytes, "asyncio.Future[Any]"]


class BatchedScript:
    """``await call(keys, args)``: EVALSHA of ``script``, sent in a pipeline with the calls of the same loop turn."""

    def __init__(self, client: redis.asyncio.Redis, script: str, deadline_seconds: float) -> None:
        self.client = client
        # redis-py's own script object: the SHA1 that EVALSHA names it by, and the text to load on NOSCRIPT.
        self.script = client.register_script(script)
        self.deadline_seconds = deadline_seconds
        self._queued: list[Call] = []
        self._flushes: set[asyncio.Task[None]] = set()  # strong references until done

    async def call(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        # Packed here, in C (hiredis; redis-py's asyncio connection packs in Python whatever the
        # parser): an argument that cannot be sent fails this call alone, before it is queued.
        command = hiredis.pack_command(("EVALSHA", self.script.sha, len(keys), *keys, *args))
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._flush)
        self._queued.append((command, reply))
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
            for _, reply in batch:
                if not reply.done():
                    reply.set_exception(exc)
            return
        except asyncio.CancelledError:  # the loop is shutting down
            for _, reply in batch:
                reply.cancel()
            raise
        for (_, reply), result in zip(batch, replies, strict=True):
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
            await self.client.script_load(self.script.script)
            for index, reply in zip(unknown, await self._pipeline([batch[i] for i in unknown]), strict=True):
                replies[index] = reply
        return replies

    async def _pipeline(self, batch: list[Call]) -> list[Any]:
        """One write of the batch's packed EVALSHAs on a pooled connection, then one reply per call.

        What ``pipeline(transaction=False).execute(raise_on_error=False)`` did, without its
        per-command Python packing and bookkeeping: the client's Retry (a socket gone stale since
        Redis restarted is dropped and the batch sent once more on a new one), redis-py's reply
        parser, and a script error as that call's reply. A connection that fails or is cancelled
        mid-read is disconnected by redis-py before it goes back to the pool.
        """
        pool = self.client.connection_pool
        connection: AbstractConnection = await pool.get_connection()  # type: ignore[no-untyped-call]  # unannotated upstream
        packed = b"".join([command for command, _ in batch])
        try:
            replies: list[Any] = await connection.retry.call_with_retry(
                lambda: self._round_trip(connection, packed, len(batch)),
                lambda _error: connection.disconnect(),
            )
        finally:
            await pool.release(connection)
        return replies

    @staticmethod
    async def _round_trip(connection: AbstractConnection, packed: bytes, count: int) -> list[Any]:
        await connection.send_packed_command(packed)
        replies: list[Any] = []
        for _ in range(count):
            try:
                replies.append(await connection.read_response())
            except ResponseError as exc:  # this call's script error, its own reply
                replies.append(exc)
        return replies
