"""The container's entrypoint: ``python -m worker``.

Translates WORKER_QUEUES / WORKER_POOL / WORKER_CONCURRENCY / LOG_LEVEL into the ordinary
``celery worker`` command line and runs it in this process (PID 1 on Cloud Run, so SIGTERM
reaches Celery directly). With WORKER_PROCESSES > 1 (the default for the threads pool) it
supervises that many such processes instead, behind one health endpoint (worker.supervisor).
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import uuid

# Must happen before billiard/celery are imported: they read it at import time. SIGTERM then
# starts Celery's soft (cold) shutdown, which requeues unfinished work inside Cloud Run's 10 s,
# instead of the warm shutdown, which waits for every task however long it takes.
os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")


def argv_for(queues: tuple[str, ...], log_level: str, events: bool = False) -> list[str]:
    """``celery worker`` arguments; the pool and concurrency come from the app's config.

    ``events`` (WORKER_EVENTS, for a group Flower watches) keeps worker heartbeats on.
    """
    return [
        # No ASCII-art banner: Cloud Logging would store each of its lines as a separate entry.
        "--quiet",
        "worker",
        f"--loglevel={log_level}",
        f"--queues={','.join(queues)}",
        # Unique per instance: Cloud Run instances may share a hostname.
        f"--hostname=worker-{uuid.uuid4().hex[:8]}@%h",
        # No worker-to-worker chatter at startup or while running: it slows startup, and
        # Cloud Run instances come and go.
        "--without-mingle",
        "--without-gossip",
        # No worker heartbeat events (Flower's liveness signal). They are published from the
        # consumer's event loop with blocking retries, so a frozen Redis froze the loop with them;
        # /healthz is this worker's liveness signal.
        *([] if events else ["--without-heartbeat"]),
    ]


def main() -> int:
    # `kill -USR1 <pid>` prints every thread's stack: how to see where a stuck worker is stuck.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    from worker.config import SettingsError, load_settings
    from worker.supervisor import CHILD_ENV

    try:
        _, settings = load_settings()
        if settings.processes > 1 and CHILD_ENV not in os.environ:
            return supervise(settings.processes, settings.port, settings.log_level)
        from worker.app import app

        if CHILD_ENV in os.environ:
            from worker.stop_signal import make_sigterm_idempotent

            make_sigterm_idempotent()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        app.worker_main(argv=argv_for(settings.queues, settings.log_level, settings.worker_events))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def supervise(processes: int, port: int, log_level: str) -> int:
    """WORKER_PROCESSES > 1: this process supervises that many workers (worker.supervisor)."""
    from task_contract.cloud_logging import configure_logging

    from worker.supervisor import Supervisor

    configure_logging(log_level)
    return Supervisor(processes, port).run()


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's exit, which joins every pool thread: a task still running after the
    # soft shutdown (its message already requeued) would hold the process past Cloud Run's SIGKILL.
    os._exit(code)
