"""The worker's consumer: what happens to running tasks on a shutdown and on a broker connection loss.

On a connection loss Celery cancels running late-ack tasks (``worker_cancel_long_running_tasks_on_
connection_loss``), because their message is requeued when the old channel closes. Two gaps lose
tasks under prefork (services/worker/README.md, "Delivery guarantees"):

1. Celery marks a request cancelled only after storing its RETRY state. With Redis down that write
   fails, the mark is never set, and when the child dies Celery takes the "terminated" path: it
   stores REVOKED and *acks* the message. The task is gone. Here the mark is set first.
2. The requeue runs while closing the old channel, usually while Redis is still down, so it fails
   and the message waits in Redis's ``unacked`` hash for the whole visibility timeout. Here the
   cancelled messages are requeued again once the consumer has reconnected (a no-op for a message
   the first attempt did requeue: kombu's restore is a transaction on the ``unacked`` entry).

The threads pool cannot cancel a thread: its tasks run on, finish and ack (at-least-once; see the README).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import bootsteps
from celery.worker.consumer import Consumer
from celery.worker.state import active_requests

from worker.pool import ThreadTaskPool

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
        super().cancel_active_requests()

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        if self.app.conf.worker_cancel_long_running_tasks_on_connection_loss and not isinstance(
            self.pool, ThreadTaskPool
        ):
            for request in tuple(active_requests):
                if request.task.acks_late and not request.acknowledged:
                    # Set before Celery cancels: its own mark comes after a result write that fails
                    # while Redis is down, and without it the child's exit is taken as a revoke,
                    # which acks the message (gap 1 above).
                    request._already_cancelled = True
                    self.cancelled_deliveries.add(request.message.delivery_tag)
        super().on_connection_error_after_connected(exc)


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
