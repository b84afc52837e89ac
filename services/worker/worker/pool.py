"""The default pool: Celery's thread pool, with a shutdown that fits Cloud Run's 10 s window.

Celery's ``TaskPool.on_stop`` calls ``ThreadPoolExecutor.shutdown()``, which waits for every running
thread, so a long task held the worker past SIGKILL. Here the pool stops without waiting: by then
the soft shutdown has given tasks their window, and the unacked messages of the tasks still running
are requeued when the broker channel closes. ``python -m worker`` then ends the process with
``os._exit`` (threads cannot be killed, and the interpreter would otherwise join them at exit).

It also enforces ``TASK_TIME_LIMIT_SECONDS`` (worker.time_limit), which Celery's thread pool ignores.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from celery.concurrency import thread
from celery.concurrency.base import apply_target
from celery.exceptions import TimeLimitExceeded

from worker.time_limit import TimedJob, TimeLimitWatchdog
from worker.work_ledger import finishes_with_ack

logger = logging.getLogger(__name__)


class ThreadTaskPool(thread.TaskPool):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shutting_down = False
        # Celery passes the worker's task_time_limit here (prefork enforces it the same way).
        self.default_time_limit: float | None = self.options.get("timeout")
        self.watchdog = TimeLimitWatchdog()
        # Tasks and their acks run in this process: the ledger removal rides in the ack.
        finishes_with_ack.enabled = True

    def on_apply(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        callback: Callable[..., Any] | None = None,
        accept_callback: Callable[..., Any] | None = None,
        timeout: float | None = None,
        timeout_callback: Callable[[bool, float], Any] | None = None,
        **options: Any,
    ) -> Any:
        limit = timeout or self.default_time_limit
        if not limit or timeout_callback is None:
            return super().on_apply(target, args, kwargs, callback, accept_callback, **options)
        job = TimedJob(limit, timeout_callback, on_expired=self._add_thread)

        def run() -> None:
            def accepted(pid: int, time_accepted: float) -> None:
                job.thread_id = threading.get_ident()
                self.watchdog.watch(job)
                if accept_callback is not None:
                    accept_callback(pid, time_accepted)

            def done(result: Any) -> None:
                if not job.expired and callback is not None:
                    callback(result)  # after a timeout Celery has already failed and acked it

            try:
                apply_target(target, args, kwargs, done, accepted)
            except TimeLimitExceeded:
                if not job.expired:
                    raise
            finally:
                self.watchdog.forget(job)
                job.finish()
                if job.expired:
                    self._remove_thread()

        return thread.ApplyResult(self.executor.submit(run))

    def _add_thread(self) -> None:
        # The expired task's thread runs on until its blocking call returns; the executor may start
        # one more thread meanwhile, so the pool keeps its concurrency.
        self.executor._max_workers += 1

    def _remove_thread(self) -> None:
        self.executor._max_workers -= 1

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
