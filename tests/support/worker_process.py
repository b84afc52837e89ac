"""A real worker process (``python -m worker``) for tests: started, probed, signalled, its output kept.

Use the ``worker_factory`` fixture (tests/conftest.py)::

    def test_something(redis_server, worker_factory):
        worker = worker_factory(redis_server)                 # waits for /healthz 200
        worker = worker_factory(redis_server, WORKER_POOL="prefork", WORKER_CONCURRENCY="2")
        worker.stop(signal.SIGTERM)                           # returns seconds until it exited

or, without pytest fixtures, ``start_worker(redis_server, ...)`` and ``worker.cleanup()`` yourself.
``celery_client(redis_server)`` gives a Celery app that publishes by task name, as the API does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.ports import free_port, wait_until
from tests.support.redis_server import RedisServer, broker_env

REPO = Path(__file__).resolve().parents[2]
# The subprocess finds the worker and the contract from the checkout, installed or not.
SOURCE_PATHS = (REPO / "services" / "worker", REPO / "services" / "shared")


@dataclass
class WorkerProcess:
    """One ``python -m worker`` subprocess with its own health port; output goes to ``log_path``."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    log_path: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="worker-", suffix=".log")[1]))
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "worker not started"
        return self.process.pid

    @property
    def healthz_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    def start(self, timeout: float = 60) -> WorkerProcess:
        """Start it and wait until /healthz answers 200 (connected and consuming)."""
        pythonpath = os.pathsep.join([*map(str, SOURCE_PATHS), os.environ.get("PYTHONPATH", "")])
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": pythonpath, **self.env, "PORT": str(self.port)}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own process group, so cleanup can also end prefork children it leaves behind.
                start_new_session=True,
            )
        self.wait_healthy(timeout)
        return self

    def health(self) -> int | None:
        """The /healthz status code, or None if nothing answers."""
        try:
            with urllib.request.urlopen(self.healthz_url, timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except OSError:
            return None

    def wait_healthy(self, timeout: float = 60) -> None:
        self.wait_health(200, timeout)

    def wait_health(self, status: int, timeout: float) -> None:
        """Wait until /healthz answers ``status``; fail at once, with the output, if the worker exits."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"worker exited while waiting for /healthz {status}\n{self.describe()}")
            last = self.health()
            if last == status:
                return
            time.sleep(0.1)
        raise AssertionError(
            f"timed out after {timeout:.0f}s waiting for /healthz {status}, last {last}\n{self.describe()}"
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> float:
        """Send ``sig`` to the worker's main process (as Cloud Run does to PID 1); seconds until it exited.

        Raises AssertionError with the worker's output if it is still running after ``timeout``.
        """
        assert self.process is not None, "worker not started"
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGUSR1)  # python -m worker dumps its threads' stacks
            time.sleep(1)
            raise AssertionError(
                f"worker pid {self.pid} still running {timeout:.0f}s after {sig.name}\n{self.describe()}"
            ) from None
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL the whole process group: the container dies, prefork children included."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_output(self, text: str, timeout: float) -> None:
        """Wait until ``text`` appears in the worker's output."""
        try:
            wait_until(lambda: text in self.output(), timeout, f"{text!r} in the worker's output")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.describe()}") from None

    def describe(self) -> str:
        code = None if self.process is None else self.process.poll()
        tail = "\n".join(self.output().splitlines()[-60:])
        return f"--- worker pid {self.process.pid if self.process else None}, exit code {code}, last output:\n{tail}"

    def cleanup(self) -> None:
        self.kill()
        self.log_path.unlink(missing_ok=True)


def start_worker(redis: RedisServer, timeout: float = 60, **env: str) -> WorkerProcess:
    """A healthy ``python -m worker`` on ``redis``; ``env`` adds or overrides variables (WORKER_POOL=...)."""
    worker = WorkerProcess(env={**broker_env(redis), "LOG_LEVEL": "INFO", **env})
    try:
        worker.start(timeout)
    except BaseException:
        worker.kill()
        raise
    return worker


def worker_factory_fixture() -> Iterator[Callable[..., WorkerProcess]]:
    """Body of the ``worker_factory`` fixture: starts workers, kills what is left at teardown."""
    workers: list[WorkerProcess] = []

    def start(redis: RedisServer, timeout: float = 60, **env: str) -> WorkerProcess:
        worker = start_worker(redis, timeout, **env)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.cleanup()


def celery_client(redis: RedisServer, **settings: Any) -> Any:
    """A Celery app that publishes by task name and reads results, configured by the shared contract."""
    from celery import Celery
    from task_contract import BrokerSettings, celery_connection_config

    broker = BrokerSettings(
        redis_url=redis.url,
        redis_ca_file=redis.tls_files.ca if redis.tls_files is not None else None,
        **settings,
    )
    app = Celery("test-client", set_as_current=False)
    app.config_from_object(celery_connection_config(broker))
    return app


def queue_depth(redis: RedisServer, queue: str) -> int:
    """Messages waiting in ``queue``, all priority sub-lists counted (docs/scaling.md, "The signal")."""
    client = redis.client()
    return sum(int(client.llen(name)) for name in (queue, *(f"{queue}\x06\x16{p}" for p in (3, 6, 9))))


def unacked(redis: RedisServer) -> int:
    """Messages delivered to a worker and not acked yet (kombu's ``unacked`` hash)."""
    return int(redis.client().hlen("unacked"))


def result_of(client: Any, task_id: str, timeout: float = 60) -> Any:
    """The task's return value, polled with plain GETs; raises AssertionError on failure or timeout.

    Unlike ``AsyncResult.get()`` this does not depend on a pub/sub subscription, which a Redis
    restart or a dropped connection can lose in the test's own client.
    """
    meta: dict[str, Any] = {}

    def done() -> bool:
        nonlocal meta
        meta = client.backend.get_task_meta(task_id)
        return meta.get("status") in ("SUCCESS", "FAILURE", "REVOKED")

    wait_until(done, timeout, f"task {task_id} to finish (last state {meta.get('status')})", interval=0.2)
    if meta["status"] != "SUCCESS":
        raise AssertionError(f"task {task_id} ended {meta['status']}: {meta.get('result')!r}")
    return meta["result"]
