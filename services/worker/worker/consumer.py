"""The worker's consumer: what happens to running tasks on a shutdown and on a broker connection loss.

On a connection loss Celery cancels running late-ack tasks (``worker_cancel_long_running_tasks_on_
connection_loss``), because their message is requeued when the old channel closes. Two gaps lose
tasks under prefork (services/worker/README.md, "Delivery guarantees"):

1. Celery marks a request cancelled only after storing its RETRY state. With Redis down that write
   fails, the mark is never set, and when the child dies Celery takes the "terminated" path: it
   stores REVOKED and *acks* the message. The task is gone. Here the request is marked first and
   cancelled without the RETRY write.
2. The requeue runs while closing the old channel, usually while Redis is still down, so it fails
   and the message waits in Redis's ``unacked`` hash for the whole visibility timeout. Here the
   cancelled messages are requeued again once the consumer has reconnected (a no-op for a message
   the first attempt did requeue: kombu's restore is a transaction on the ``unacked`` entry).

The threads pool cannot cancel a thread: its tasks run on, finish and ack (at-least-once; see the README).
At a shutdown under the supervisor, their messages are requeued only once the process has exited
(worker.shutdown_requeue), so no second copy starts while the first still runs.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import bootsteps
from celery.worker.consumer import Consumer
from celery.worker.state import active_requests, task_ready

from worker.pool import ThreadTaskPool
from worker.shutdown_requeue import hand_off_running

logger = logging.getLogger(__name__)


class WorkerConsumer(Consumer):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Delivery tags of late-ack tasks cancelled on a connection loss, requeued after the reconnect.
        self.cancelled_deliveries: set[str] = set()

    def cancel_active_requests(self) -> None:
        # Celery calls this only from its shutdown signal handlers (soft/cold shutdown).
        if isinstance(self.pool, ThreadTaskPool):
            self.pool.shutting_down = True
            # Their threads run on until this process exits: requeued only after (worker.shutdown_requeue).
            task_consumer = getattr(self, "task_consumer", None)
            hand_off_running(getattr(task_consumer, "channel", None))
        super().cancel_active_requests()

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        if self.app.conf.worker_cancel_long_running_tasks_on_connection_loss and not isinstance(
            self.pool, ThreadTaskPool
        ):
            # Cancelled here, before Celery's own pass, which then finds nothing left to cancel.
            for request in tuple(active_requests):
                if request.task.acks_late and not request.acknowledged:
                    self._cancel(request)
        super().on_connection_error_after_connected(exc)

    def _cancel(self, request: Any) -> None:
        # Marked first, so the child's exit is never taken as a revoke, which would ack (gap 1).
        request._already_cancelled = True
        self.cancelled_deliveries.add(request.message.delivery_tag)
        try:
            # No RETRY write: with Redis down it would block the consumer while it retries.
            request.cancel(self.pool, emit_retry=False)
        except Exception:
            logger.warning("cancelling %r after the connection loss failed", request, exc_info=True)
        task_ready(request)


class RequeueCancelled(bootsteps.StartStopStep):  # type: ignore[misc]
    """After each (re)connect, puts the messages of tasks cancelled on the connection loss back in their queue."""

    label = "requeue cancelled"
    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, c: Any) -> None:
        tags = getattr(c, "cancelled_deliveries", None)
        if not tags:
            return
        qos = c.task_consumer.channel.qos
        for tag in sorted(tags):
            # A connection error here propagates: Celery reconnects and this step runs again.
            qos.restore_by_tag(tag, leftmost=True)
            tags.discard(tag)
        logger.warning("requeued the messages of tasks cancelled by the broker connection loss")
