"""In a supervised worker process SIGTERM means "stop", once: repeats change nothing.

systemd's default ``KillMode=control-group`` (and ``pkill``) send SIGTERM to every process, so a
consumer process gets it twice: directly, and passed on by its supervisor (worker.supervisor).
Celery (``REMAP_SIGTERM=SIGQUIT``) takes a second SIGTERM as "cancel the running tasks now", so
tasks that would have finished inside the soft shutdown window were requeued; and one arriving
while its first handler starts runs the whole 6 s soft shutdown again inside the first (measured
12.3 s, past the supervisor's kill at 9.5 s). Escalation comes from the supervisor, as SIGQUIT.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

import celery.apps.worker
from celery.signals import worker_ready


class _Stop:
    installed = False
    started = False


def _install(**_: Any) -> None:
    celery_stop = signal.getsignal(signal.SIGTERM)
    # Once: a wrapper around this wrapper would swallow the stop.
    if _Stop.installed or not callable(celery_stop):
        return
    _Stop.installed = True

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if _Stop.started:  # checked and set with no call in between: a nested repeat cannot slip through
            return
        _Stop.started = True
        celery_stop(signum, frame)

    # Celery's soft shutdown would replace this handler with its second-signal one; it does so only
    # while this module global says SIGQUIT (read when it runs). The SIGTERM handler Celery chose at
    # import, which is the soft shutdown called above, stays as it was.
    celery.apps.worker.REMAP_SIGTERM = None
    signal.signal(signal.SIGTERM, on_sigterm)


def make_sigterm_idempotent() -> None:
    """Once Celery has installed its handlers (it has when the worker is ready), wrap its SIGTERM one."""
    worker_ready.connect(_install, weak=False)
