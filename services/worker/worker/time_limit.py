"""Hard time limits for the threads pool, which Celery's thread pool does not enforce.

A thread cannot be killed, so at ``TASK_TIME_LIMIT_SECONDS`` the watchdog does what prefork does
when it kills a child, through the same Celery hook (``Request.on_timeout``): the task is stored
as FAILURE ``TimeLimitExceeded`` and its message is acked (``task_acks_on_failure_or_timeout``),
so the visibility timeout can never hand it to a second worker while this copy still runs. Then
``TimeLimitExceeded`` is raised inside the task's thread: it stops at its next Python instruction,
which for a blocking call (sleep, a socket read) is when that call returns, so tasks still bound
their own I/O. Until then the thread is abandoned and the pool gets one more thread, so the slot
it holds does not starve the next message.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from celery.exceptions import TimeLimitExceeded

logger = logging.getLogger(__name__)

# How often the watchdog looks for expired jobs: a task fails at most this long after its limit.
TICK_SECONDS: Final = 0.25


def raise_in_thread(thread_id: int, exc_type: type[BaseException] | None) -> None:
    """Make ``thread_id`` raise ``exc_type`` at its next Python instruction (``None`` clears a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_type))


@dataclass(eq=False)
class TimedJob:
    """One task run under a hard time limit; ``lock`` orders "finished" against "expired"."""

    limit: float
    on_timeout: Callable[[bool, float], Any]
    on_expired: Callable[[], None]
    thread_id: int = 0
    deadline: float = 0.0
    finished: bool = False
    expired: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def finish(self) -> None:
        """Called by the task's own thread when the job ends, however it ends."""
        with self.lock:
            self.finished = True
            if self.expired:
                raise_in_thread(self.thread_id, None)  # not yet delivered: it must not hit the next task

    def expire(self) -> None:
        """Called by the watchdog at the deadline."""
        with self.lock:
            if self.finished:
                return
            self.expired = True
            raise_in_thread(self.thread_id, TimeLimitExceeded)
        self.on_expired()
        # Celery's own handler: logs "Hard time limit exceeded", stores FAILURE and acks the message.
        self.on_timeout(False, self.limit)


class TimeLimitWatchdog:
    """One daemon thread that expires every running job whose deadline has passed.

    It scans the running jobs every ``TICK_SECONDS`` instead of sleeping until the next deadline:
    registering and forgetting a job stay O(1) with no wake-up per task, and finished jobs are not
    kept until their deadline (at 400 tasks/s and a 600 s limit that would be 240,000 of them).
    """

    def __init__(self) -> None:
        self._running: dict[int, TimedJob] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, job: TimedJob) -> None:
        job.deadline = time.monotonic() + job.limit
        with self._lock:
            self._running[id(job)] = job
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="time-limit-watchdog", daemon=True)
                self._thread.start()

    def forget(self, job: TimedJob) -> None:
        with self._lock:
            self._running.pop(id(job), None)

    def _run(self) -> None:
        while True:
            time.sleep(TICK_SECONDS)
            now = time.monotonic()
            with self._lock:
                expired = [job for job in self._running.values() if job.deadline <= now]
                for job in expired:
                    del self._running[id(job)]
            for job in expired:
                try:
                    job.expire()
                except Exception:  # a failed result write must not stop the watchdog
                    logger.exception("handling a task's time limit failed")
