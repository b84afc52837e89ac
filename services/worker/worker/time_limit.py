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
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery.exceptions import TimeLimitExceeded

logger = logging.getLogger(__name__)


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
    """One daemon thread that expires every job whose deadline has passed."""

    def __init__(self) -> None:
        self._deadlines: list[tuple[float, int, TimedJob]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, job: TimedJob) -> None:
        with self._wake:
            heapq.heappush(self._deadlines, (time.monotonic() + job.limit, next(self._order), job))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="time-limit-watchdog", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._deadlines or self._deadlines[0][0] > time.monotonic():
                    timeout = self._deadlines[0][0] - time.monotonic() if self._deadlines else None
                    self._wake.wait(timeout)
                _, _, job = heapq.heappop(self._deadlines)
            if not job.finished:
                try:
                    job.expire()
                except Exception:  # a failed result write must not stop the watchdog
                    logger.exception("handling a task's time limit failed")
