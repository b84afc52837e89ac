"""The processes a benchmark runs against: a private Redis, the API, workers, and their RSS.

Every process binds 127.0.0.1 only, logs to a file in the run's scratch directory (shown in
errors), and is stopped by its own pid: SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Self

import redis

from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.system_packages import ensure_commands

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


class BenchmarkError(RuntimeError):
    """The benchmark itself could not run (a process died, a request failed): not a missed target."""


def ensure_tools() -> None:
    ensure_commands({"redis-server": "redis-server", "wrk": "wrk"})


@dataclass
class ScratchDir:
    path: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-")))

    def log(self, name: str) -> Path:
        slug = "".join(c if c.isalnum() or c in "-+" else "_" for c in name)
        return self.path / f"{slug}.log"


@contextmanager
def private_redis() -> Iterator[RedisServer]:
    """A redis-server with AUTH, like Memorystore, on a free loopback port."""
    server = RedisServer(password=secrets.token_urlsafe(12)).start()
    try:
        yield server
    finally:
        server.cleanup()


def redis_url(server: RedisServer, db: int) -> str:
    return server.url.rsplit("/", 1)[0] + f"/{db}"


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def base_env(**extra: str) -> dict[str, str]:
    """The environment for a child: this one, with the repo importable and no inherited settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKER_", "API_", "REDIS_", "CELERY"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Process:
    name: str
    argv: Sequence[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            list(self.argv), env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def check_alive(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            raise BenchmarkError(f"{self.name} exited early; last lines of {self.log_path}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, grace: float = 3.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        # Our own process group only (start_new_session): the pool children go with their parent.
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)
        except ProcessLookupError:
            pass


class Supervised(Protocol):
    """What a benchmark needs of a process it started: ours (Process) or a test helper's, adapted."""

    log_path: Path

    @property
    def pid(self) -> int: ...

    def check_alive(self) -> None: ...

    def tail(self, lines: int = 30) -> str: ...

    def stop(self) -> None: ...


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, process: Supervised | None = None,
             interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None:
            process.check_alive()
        try:
            ready = predicate()
        except Exception:  # noqa: BLE001 - a probe that raises means "not ready yet"
            ready = False
        if ready:
            return
        time.sleep(interval)
    detail = f"; last lines of {process.log_path}:\n{process.tail()}" if process else ""
    raise BenchmarkError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


# --- resident memory of a process tree, from /proc (Linux) -------------------------------------

def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def tree_pids(root: int) -> list[int]:
    children = _children_map()
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(children.get(pid, []))
    return pids


def tree_rss_bytes(root: int) -> int:
    total = 0
    for pid in tree_pids(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of a process tree so far, including children it has already reaped
    (prefork recycles its children); a cost per task that a busy shared machine distorts less
    than wall-clock throughput."""
    ticks = 0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


# --- CPU pinning (benchmark (a)): the server under test on one CPU, load generator and Redis on the other

SERVER_CPU = 0
LOAD_CPU = 1


def pin_tree(root: int, cpu: int) -> None:
    """Every thread of every process in ``root``'s tree runs on ``cpu`` only (children forked later inherit it).

    What ``taskset -a -p -c <cpu> <pid>`` does, for a whole tree; Linux applies affinity per thread.
    """
    if cpu >= (os.cpu_count() or 1):
        raise BenchmarkError(f"cannot pin to CPU {cpu}: this machine has {os.cpu_count()} CPU(s); pinning needs 2")
    for pid in tree_pids(root):
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in threads:
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(int(tid), {cpu})


class PeakRss:
    """Samples the RSS of a process tree every ``interval`` seconds in a thread; ``peak`` is the max."""

    def __init__(self, root: int, interval: float = 0.1) -> None:
        self.root, self.interval, self.peak = root, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.root))
            self._stop.wait(self.interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss_bytes(self.root))


__all__ = [
    "LOAD_CPU", "SERVER_CPU", "BenchmarkError", "PeakRss", "Process", "ScratchDir", "base_env", "ensure_tools", "free_port",
    "http_ok", "pin_tree", "private_redis", "redis_client", "redis_url", "tree_cpu_seconds", "tree_rss_bytes", "wait_for",
]
