"""Several consumer processes per instance: ``WORKER_PROCESSES`` ``celery worker`` processes, one health endpoint.

One Celery worker process runs its consumer and every task under one GIL, and tops out near 450
tasks/s of I/O-bound work on its consumer's CPU (docs/benchmarks.md (b), (c)). With
``WORKER_PROCESSES`` > 1, ``python -m worker`` becomes this supervisor instead:

- it starts that many ``python -m worker`` children, each an ordinary Celery worker with its own
  consumer and pool, each in its own session: a signal to the supervisor's process group (a
  terminal's Ctrl-C, ``kill -TERM -<pgid>``, honcho) reaches the supervisor alone, which passes it
  on once. Signalled twice, a child took the second as Celery's "cancel the tasks now", or ran its
  6 s soft shutdown twice and was killed at 9.5 s. The kernel SIGKILLs a child when the
  supervisor dies (PR_SET_PDEATHSIG, as Celery does for its prefork children), so a SIGKILL of the
  supervisor or its group still takes them all and no orphan consumes;
- it serves ``$PORT``: ``/healthz`` is ``200`` only if *every* child answers ``200`` on its own
  loopback port, else ``503`` naming the child and its reason; ``/metrics`` sums the children's
  counters (prometheus_client's multiprocess mode);
- the first SIGTERM, SIGINT or SIGQUIT is passed on to every child as SIGTERM, so each does the
  soft shutdown Cloud Run's SIGTERM starts (requeue within 10 s; Celery's own SIGINT would be a
  warm shutdown that requeues a running task while its thread still runs); a later SIGINT or
  SIGQUIT (a second Ctrl-C) is passed on as SIGQUIT, Celery's escalation: running tasks are
  cancelled now (requeued after the exit), and a third makes the children exit at once; a later
  SIGTERM changes nothing. The supervisor exits once the children have; any still running at
  ``KILL_AFTER_SECONDS`` is SIGKILLed (its messages come back after the visibility timeout);
- a thread-pool child's tasks still running at its exit are requeued here, once it has exited, so
  no copy starts elsewhere while the old one runs (worker.shutdown_requeue);
- if a child exits on its own, the others are stopped the same way and the supervisor exits
  with that child's code, so Cloud Run replaces the instance (a worker that half runs is worse).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from worker.shutdown_requeue import REQUEUE_FILE_ENV, requeue_after_exit

logger = logging.getLogger(__name__)

# Cloud Run SIGKILLs 10 s after SIGTERM; the children's soft shutdown needs ≤ 8 s (README).
KILL_AFTER_SECONDS: Final = 9.5
# Each child is probed this often, in the background, so /healthz answers at once from the last answers.
CHILD_PROBE_INTERVAL_SECONDS: Final = 0.5
CHILD_PROBE_TIMEOUT_SECONDS: Final = 1.0
# Set in a child's environment: its number, and that it serves health on loopback only.
CHILD_ENV: Final = "WORKER_CHILD_INDEX"
_PR_SET_PDEATHSIG: Final = 1


def _death_guard() -> Callable[[], None] | None:
    """The child's pre-exec hook: die when the supervisor dies (an orphan would consume with no health endpoint).

    None where there is no prctl (Linux only; Cloud Run is Linux). Looked up here, in the supervisor,
    not in the forked child, where another thread may hold the loader's lock.
    """
    prctl = getattr(ctypes.CDLL(None), "prctl", None)
    if prctl is None:
        return None
    supervisor_pid = os.getpid()

    def guard() -> None:
        # The death signal fires when the forking thread exits: children are started from the main thread.
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != supervisor_pid:  # the supervisor died before the prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return guard


def _free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Child:
    def __init__(self, index: int, metrics_dir: str, death_guard: Callable[[], None] | None) -> None:
        self.index = index
        self.port = _free_loopback_port()
        # prometheus_client reads only *.db files from the directory, which is removed at exit.
        self.requeue_file = Path(metrics_dir) / f"requeue-{index}.json"
        env = {**os.environ, CHILD_ENV: str(index), "WORKER_PROCESSES": "1", "PORT": str(self.port),
               "PROMETHEUS_MULTIPROC_DIR": metrics_dir, REQUEUE_FILE_ENV: str(self.requeue_file)}
        # Without the guard (not Linux) a child stays in the supervisor's group, so a group SIGKILL still takes it.
        self.process = subprocess.Popen([sys.executable, "-m", "worker"], env=env,
                                        start_new_session=death_guard is not None, preexec_fn=death_guard)
        self.last: tuple[int, dict[str, Any]] = (503, {"status": "not consuming", "reason": "starting"})

    def probe(self) -> None:
        self.last = self.health()

    def health(self) -> tuple[int, dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=CHILD_PROBE_TIMEOUT_SECONDS) as response:
                return int(response.status), json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), json.loads(exc.read() or b"{}")
        except (OSError, ValueError) as exc:
            return 503, {"status": "not consuming", "reason": f"not answering: {exc}"}


class Supervisor:
    def __init__(self, processes: int, port: int) -> None:
        self.processes, self.port = processes, port
        self.children: list[Child] = []
        self.stopping = threading.Event()
        self.escalations = 0  # SIGINT/SIGQUIT after the first stop signal (a second Ctrl-C, a third)

    def health(self) -> tuple[int, dict[str, Any]]:
        if self.stopping.is_set():
            return 503, {"status": "not consuming", "reason": "shutting down"}
        answers = [(child, *child.last) for child in self.children]
        if not answers:
            return 503, {"status": "not consuming", "reason": "starting"}
        for child, status, body in answers:
            if status != 200:
                reason = body.get("reason", body.get("status", "unknown"))
                return 503, {"status": "not consuming", "reason": f"process {child.index}: {reason}"}
        return 200, answers[0][2]

    def run(self) -> int:
        metrics_dir = tempfile.mkdtemp(prefix="worker-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            signal.signal(signum, self._on_signal)
        server = self._serve()
        try:
            death_guard = _death_guard()
            self.children = [Child(index, metrics_dir, death_guard) for index in range(1, self.processes + 1)]
            # Imported while the children start, not in the 10 s after SIGTERM: the requeue needs it.
            from worker.app import app

            threading.Thread(target=self._probe_forever, name="child-probes", daemon=True).start()
            logger.info("supervising %d worker processes (pids %s); health on port %d",
                        self.processes, ", ".join(str(c.process.pid) for c in self.children), self.port)
            code = self._wait()
            self._requeue_handed_off(app)
            return code
        finally:
            server.shutdown()
            shutil.rmtree(metrics_dir, ignore_errors=True)

    def _requeue_handed_off(self, app: Any) -> None:
        for child in self.children:
            try:
                count = requeue_after_exit(child.requeue_file, app)
            except Exception:  # a broker error: the messages come back after the visibility timeout
                logger.exception("requeueing worker process %d's running tasks failed", child.index)
                continue
            if count:
                logger.warning("requeued %d task(s) that worker process %d was running when it exited",
                               count, child.index)

    def _probe_forever(self) -> None:
        while True:
            for child in self.children:
                child.probe()
            time.sleep(CHILD_PROBE_INTERVAL_SECONDS)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if not self.stopping.is_set():
            self.stopping.set()
            self._signal_all(signal.SIGTERM)
        elif signum != signal.SIGTERM:
            self.escalations += 1
            what = ("cancelling the running tasks now (requeued once their process has exited)"
                    if self.escalations == 1 else "the worker processes exit at once")
            logger.warning("%s again, passed on as SIGQUIT: %s", signal.Signals(signum).name, what)
            self._signal_all(signal.SIGQUIT)

    def _signal_all(self, signum: int) -> None:
        for child in self.children:
            if child.process.poll() is None:
                child.process.send_signal(signum)

    def _wait(self) -> int:
        code = 0
        deadline: float | None = None
        while any(child.process.poll() is None for child in self.children):
            if self.stopping.is_set() and deadline is None:
                deadline = time.monotonic() + KILL_AFTER_SECONDS
            for child in self.children:
                returned = child.process.poll()
                if returned is not None and not self.stopping.is_set():
                    logger.error("worker process %d (pid %d) exited with code %s; stopping the others",
                                 child.index, child.process.pid, returned)
                    code = returned or 1
                    self.stopping.set()
                    self._signal_all(signal.SIGTERM)
            if deadline is not None and time.monotonic() > deadline:
                logger.error("worker processes still running %.1fs after the stop; killing them", KILL_AFTER_SECONDS)
                self._signal_all(signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.05)
        return code

    def _child_metrics(self) -> bytes | None:
        """A child's /metrics: counters summed over every process (shared multiprocess directory),
        plus the queue, dead-letter and consuming gauges (worker.metrics); None if none answers."""
        for child in self.children:
            try:
                url = f"http://127.0.0.1:{child.port}/metrics"
                with urllib.request.urlopen(url, timeout=CHILD_PROBE_TIMEOUT_SECONDS) as response:
                    return bytes(response.read())
            except OSError:
                continue
        return None

    def _serve(self) -> ThreadingHTTPServer:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        from worker.health import HealthHandler

        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        handler = type("SupervisorHealthHandler", (HealthHandler,), {
            "report": staticmethod(self.health),
            "metrics": staticmethod(lambda: self._child_metrics() or bytes(generate_latest(registry))),
        })

        try:
            server = ThreadingHTTPServer(("0.0.0.0", self.port), handler)
        except OSError as exc:
            raise RuntimeError(f"cannot serve the health endpoint on PORT={self.port}: {exc}; choose a free port") from exc
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="health-server", daemon=True).start()
        return server
