"""The default pool: Celery's thread pool, with a shutdown that fits Cloud Run's 10 s window.

Celery's ``TaskPool.on_stop`` calls ``ThreadPoolExecutor.shutdown()``, which waits for every running
thread, so a long task held the worker past SIGKILL. Here the pool stops without waiting: by then
the soft shutdown has given tasks their window, and the unacked messages of the tasks still running
are requeued when the broker channel closes. ``python -m worker`` then ends the process with
``os._exit`` (threads cannot be killed, and the interpreter would otherwise join them at exit).
"""

from __future__ import annotations

import logging
from typing import Any

from celery.concurrency import thread

logger = logging.getLogger(__name__)


class ThreadTaskPool(thread.TaskPool):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shutting_down = False

    def on_stop(self) -> None:
        # Celery calls this from the SIGTERM handler, on the thread that submits tasks. If the signal
        # interrupted submit(), that frame holds the executor's (non-reentrant) shutdown lock, and
        # shutdown() would wait for it forever. Then skip it: nothing is queued behind a full pool
        # (prefetch 1), and the process exits next.
        lock = self.executor._shutdown_lock
        if not lock.acquire(blocking=False):
            logger.warning("thread pool busy starting a thread; stopping without shutting the executor down")
            return
        lock.release()
        self.executor.shutdown(wait=False, cancel_futures=True)

    def terminate_job(self, pid: int | None, signal: int | None = None) -> None:
        # A thread cannot be killed. At shutdown that is fine: the task's message is unacked and is
        # requeued when the channel closes, just before the process exits. On a broker connection
        # loss the task keeps running, so say so: Celery logs it and leaves the request active.
        if self.shutting_down:
            logger.warning("a task still running at shutdown is abandoned; its message goes back to the queue")
            return
        raise NotImplementedError("the threads pool cannot cancel a running task; it runs to completion")
