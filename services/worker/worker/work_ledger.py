"""The worker's side of the work ledger (task_contract.work_ledger), which the autoscaler counts.

It stays exact while tasks run: a delivered message's task is (re-)added in the same MULTI that
records the delivery in kombu's ``unacked`` hash (worker.redis_transport_patch), a task that reaches
a final state or is revoked is removed (task signals), a retry stays. A bootstep sweeps what a
killed worker left behind. A ledger write that fails (Redis away) is logged and never fails the task: the
worst case is a member the sweep drops later, i.e. an instance kept a little longer.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Final

import redis
from celery import bootsteps, signals
from task_contract import work_ledger

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS: Final = 60.0
# Only members untouched this long are swept: younger ones are being published or started.
SWEEP_MIN_AGE_SECONDS: Final = 60.0
LEDGER_SOCKET_TIMEOUT_SECONDS: Final = 5

_clients: dict[tuple[int, str], redis.Redis] = {}


def ledger_client(conf: Any) -> redis.Redis:
    """A client of the broker's Redis, one per process (prefork children get their own)."""
    key = (os.getpid(), str(conf.broker_url))
    client = _clients.get(key)
    if client is None:
        # broker_use_ssl's keys (ssl_cert_reqs, ssl_ca_certs) are redis-py's own.
        client = redis.Redis.from_url(
            conf.broker_url,
            socket_timeout=LEDGER_SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=LEDGER_SOCKET_TIMEOUT_SECONDS,
            **(conf.broker_use_ssl or {}),
        )
        _clients[key] = client
    return client


def _queue(request: Any) -> str | None:
    info = getattr(request, "delivery_info", None) or {}
    queue = info.get("routing_key")
    return queue if isinstance(queue, str) and queue else None


def _finish(task: Any, request: Any, task_id: str) -> None:
    queue = _queue(request)
    if queue is None or task is None:
        return
    try:
        client = ledger_client(task.app.conf)
        work_ledger.finish(client, queue, task_id)
    except redis.RedisError as exc:
        logger.warning("work ledger finish of task %s on %s failed: %s", task_id, queue, exc)


class FinishesWithAck:
    """Ledger removals that ride in the ack's MULTI instead of a round trip of their own.

    Only where a task and its late ack happen in the consumer's process (the threads pool turns it
    on): a task that reached a final state while its message is still unacked is removed by the
    ack (worker.redis_transport_patch). If the ack never comes (connection lost, process killed),
    the sweep drops the member: its stored result is final.
    """

    def __init__(self) -> None:
        self.enabled = False
        self._lock = threading.Lock()
        self._unacked: dict[str, str] = {}  # task id -> delivery tag of its latest delivery here
        self._finished: set[str] = set()

    def delivered(self, task_id: str, delivery_tag: str) -> None:
        with self._lock:
            self._unacked[task_id] = delivery_tag

    def defer(self, task_id: str) -> bool:
        """At a final state: True if the message's ack (still to come) removes the member."""
        if not self.enabled:
            return False
        with self._lock:
            if task_id in self._unacked:
                self._finished.add(task_id)
                return True
        return False

    def settled(self, task_id: str, delivery_tag: str, requeued: bool = False) -> bool:
        """The message was acked (or rejected): True if its ack must remove the member now."""
        with self._lock:
            if self._unacked.get(task_id) == delivery_tag:
                del self._unacked[task_id]
            if task_id not in self._finished:
                return False
            self._finished.discard(task_id)
            return not requeued


finishes_with_ack = FinishesWithAck()


def _on_postrun(task_id: str = "", task: Any = None, state: str | None = None, **_: Any) -> None:
    if state in work_ledger.FINAL_STATES and not finishes_with_ack.defer(task_id):
        _finish(task, getattr(task, "request", None), task_id)


def _on_revoked(request: Any = None, sender: Any = None, **_: Any) -> None:
    if request is not None:
        _finish(sender, request, str(request.id))


signals.task_postrun.connect(_on_postrun, weak=False)
signals.task_revoked.connect(_on_revoked, weak=False)


def sweep_queues(app: Any, queues: list[str], now: float) -> list[str]:
    """Drop leaked members of ``queues``' ledgers (task_contract.work_ledger.sweep)."""
    conf = app.conf
    backend = app.backend
    # A member untouched this long is no task's: any task would have run, been redelivered
    # (visibility timeout) and been touched again by now.
    horizon = float(conf.broker_transport_options["visibility_timeout"]) + float(conf.task_time_limit or 0)

    def stored_results(ids: list[str]) -> list[Any]:
        return list(backend.client.mget([backend.get_key_for_task(i) for i in ids]))

    dropped: list[str] = []
    for queue in queues:
        dropped += work_ledger.sweep(
            ledger_client(conf),
            queue,
            now,
            min_age_seconds=SWEEP_MIN_AGE_SECONDS,
            horizon_seconds=horizon,
            stored_results=stored_results,
        )
    return dropped


class LedgerSweep(bootsteps.StartStopStep):  # type: ignore[misc]
    """Every minute, drop ledger members of this worker's queues that no task will finish.

    Its own daemon thread, not the worker's timer: under prefork the timer runs on the event
    loop, which a sweep blocked on a dead Redis (up to the socket timeouts) would stall.
    Started after the pool, so prefork children are not forked holding the thread.
    """

    requires = ("celery.worker.components:Pool",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.stopping = threading.Event()

    def start(self, worker: Any) -> None:
        app = worker.app

        def run() -> None:
            while not self.stopping.wait(SWEEP_INTERVAL_SECONDS):
                queues = sorted(app.amqp.queues.consume_from or app.amqp.queues)
                try:
                    dropped = sweep_queues(app, queues, time.time())
                except redis.RedisError as exc:
                    logger.warning("work ledger sweep failed: %s", exc)
                    continue
                if dropped:
                    logger.info("work ledger sweep dropped %d finished or lost task(s)", len(dropped))

        threading.Thread(target=run, name="work-ledger-sweep", daemon=True).start()

    def stop(self, worker: Any) -> None:
        self.stopping.set()
