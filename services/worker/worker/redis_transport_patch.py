"""kombu's Redis transport with a fix for closing a dead channel, and cheaper per-message bookkeeping.

**The fix.** kombu 5.7.0 (with Celery 5.7.0 and redis-py 8.1) crashes a busy worker when Redis goes away:

1. The consumer sees the connection error and calls ``connection.collect()``. That closes the
   channel, whose ``close()`` first reads the pending BRPOP reply; on the dead socket the read
   raises a ConnectionError, which ``collect()`` swallows. The channel is left open and
   ``collect()`` detaches the transport from the connection.
2. Celery then calls ``connection.close()``. The channel's second ``close()`` gets past the read and
   tries to requeue its unacked messages through a new client; building it reads the detached
   transport's settings and raises ``AttributeError: 'NoneType' object has no attribute 'hostname'``.
   That is not a connection error, so it escapes: "Unrecoverable error", and the worker exits.

Here ``close()`` finishes the job the first time: after the failed read it closes again while the
transport is still attached. Requeueing then fails with a connection error (Redis is down), which
kombu ignores; the unacked messages stay in Redis and are redelivered after the visibility timeout.
tests/worker/test_faults.py (Redis restarted while the worker is busy) fails without this.

**Per message** (docs/benchmarks.md (c), profile): kombu builds a new ``redis.Redis`` for every
``unacked`` MULTI and every ack (8 % of a consumer's CPU); here a channel keeps one, which redis-py
allows (each command checks a connection out of the channel's pool). And the work ledger's touch
(task_contract.work_ledger) rides in the ``unacked`` MULTI of the message's delivery instead of
costing the task thread its own round trip: a delivered message is reserved or running, which is
what the ledger counts. Under the threads pool the removal at a final state rides in the ack's
MULTI (worker.work_ledger.FinishesWithAck).
"""

# kombu is untyped; these classes override its methods and call them.
# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

import time
from typing import Any

from kombu.transport import redis
from kombu.transport.virtual import base as virtual
from kombu.utils.json import dumps
from task_contract.work_ledger import ledger_key

from worker.work_ledger import finishes_with_ack


def _task_id(message: Any) -> str | None:
    task_id = (message.headers or {}).get("id") if message is not None else None
    return task_id if isinstance(task_id, str) else None


class QoS(redis.QoS):
    def append(self, message: Any, delivery_tag: str) -> None:
        # kombu's own append (the unacked hash and its index), plus the ledger touch, in one MULTI.
        delivery = message.delivery_info
        exchange, routing_key = delivery["exchange"], delivery["routing_key"]
        now = time.time()
        task_id = _task_id(message)
        with self.pipe_or_acquire() as pipe:
            pipe.zadd(self.unacked_index_key, {delivery_tag: now})
            pipe.hset(self.unacked_key, delivery_tag, dumps([message._raw, exchange, routing_key]))
            if task_id and routing_key:
                pipe.zadd(ledger_key(routing_key), {task_id: now})
                finishes_with_ack.delivered(task_id, delivery_tag)
            pipe.execute()
            virtual.QoS.append(self, message, delivery_tag)

    def ack(self, delivery_tag: str) -> None:
        # kombu's ack (ZREM + HDEL of the delivery), plus the ledger removal of a finished task.
        message = self._delivered.get(delivery_tag)
        task_id = _task_id(message)
        pipe = self._remove_from_indices(delivery_tag)
        if message is not None and task_id and finishes_with_ack.settled(task_id, delivery_tag):
            pipe.zrem(ledger_key(message.delivery_info["routing_key"]), task_id)
        pipe.execute()
        virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if not requeue:
            self.ack(delivery_tag)  # what kombu's reject without requeue does
            return
        task_id = _task_id(self._delivered.get(delivery_tag))
        if task_id:
            finishes_with_ack.settled(task_id, delivery_tag, requeued=True)
        super().reject(delivery_tag, requeue=True)


class Channel(redis.Channel):
    QoS = QoS
    _sync_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        # self.pool is rebuilt after a close; a client is kept only for the pool it was made for.
        pool = self.pool
        client = self._sync_client
        if client is None or client.connection_pool is not pool:
            client = self._sync_client = super()._create_client()
        return client

    def close(self) -> None:
        try:
            super().close()
        except self.connection_errors:
            if self.closed:
                raise
            # The BRPOP read failed before the channel was marked closed; _in_poll is now cleared,
            # so this pass closes it for real (and may raise a connection error of its own).
            super().close()


class Transport(redis.Transport):
    Channel = Channel
