"""The README's first command: `make dev` runs Redis, the API and a worker under honcho, and Ctrl-C stops them all,
Redis last (scripts/dev_supervisor.py)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import redis

from tests.support.ports import free_port, wait_until
from tests.support.system_packages import ensure_commands

ROOT = Path(__file__).resolve().parents[2]


def launch(env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    """``scripts/dev.py`` as a terminal runs it (its own process group), and its output lines as they come."""
    launcher = subprocess.Popen(
        [sys.executable, "scripts/dev.py"], cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(launcher.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    return launcher, lines


def kill_everything(launcher: subprocess.Popen[str]) -> None:
    """A failed test's cleanup: dev.py's group, and the Procfile processes (each in its own session)."""
    if launcher.poll() is None:
        for child in psutil.Process(launcher.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        os.killpg(launcher.pid, signal.SIGKILL)


def pasted_curl_post(lines: list[str]) -> str:
    """The banner's POST example exactly as printed, continuation line included, as a user would paste it."""
    text = "".join(lines)
    match = re.search(r"^  curl -s -X POST .*\\\n.*$", text, re.MULTILINE)
    assert match, f"no curl example at the start of a line (honcho prefix?):\n{text}"
    return match.group(0)


def redis_of(children: list[psutil.Process]) -> redis.Redis:
    """A client of the redis-server dev.py started: the REDIS_URL it gave the API."""
    url = next(p.environ()["REDIS_URL"] for p in children if "-m api" in " ".join(p.cmdline()))
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


class PingsWhile:
    """PINGs Redis every 50 ms while any of ``processes`` runs; ``failures`` holds what went wrong."""

    def __init__(self, client: redis.Redis, processes: list[psutil.Process]) -> None:
        self.client, self.processes = client, processes
        self.failures: list[str] = []
        self.pings = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        return any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in self.processes)

    def run(self) -> None:
        while self.alive():
            try:
                self.client.ping()
                self.pings += 1
            except redis.RedisError as exc:
                if self.alive():  # the worker may have exited during the failed PING
                    self.failures.append(f"{time.monotonic():.2f}: {type(exc).__name__}: {exc}")
            time.sleep(0.05)


def test_dev_runs_the_system_and_ctrl_c_stops_everything() -> None:
    ensure_commands({"redis-server": "redis-server", "curl": "curl"})
    api_port = free_port()
    env = {"API_PORT": str(api_port), "API_KEYS": "dev-test-key", "REDIS_URL": ""}
    launcher, lines = launch(env)
    try:
        wait_until(lambda: any("API ready on" in line for line in lines), 60, "the ready banner")
        children = psutil.Process(launcher.pid).children(recursive=True)
        commands = " ".join(" ".join(p.cmdline()) for p in children)
        assert "redis-server" in commands and "-m api" in commands and "-m worker" in commands
        assert "local_scheduler.py" in commands
        # The local scheduler fires Pulumi.dev.yaml's schedule with a signed ID token: accepted.
        wait_until(lambda: any("local scheduler: celery-dev-add-every-5-minutes" in line and "-> 202" in line
                               for line in lines), 30, "the local scheduler's first tick")

        banner = "".join(lines)
        assert f"http://127.0.0.1:{api_port}" in banner
        # The example pastes as printed: run it through a shell, as a terminal would.
        pasted = subprocess.run(["bash", "-c", pasted_curl_post(lines)], capture_output=True, text=True, timeout=10)
        task_id = json.loads(pasted.stdout)["task_id"]
        headers = {"Authorization": "Bearer dev-test-key"}
        base = f"http://127.0.0.1:{api_port}"

        def finished() -> bool:
            return httpx.get(f"{base}/v1/tasks/{task_id}", headers=headers).json()["state"] == "SUCCESS"

        wait_until(finished, 20, "the task's result")
        assert httpx.get(f"{base}/v1/tasks/{task_id}", headers=headers).json()["result"] == 5

        # The worker (its supervisor and consumer processes) must reach Redis until its last one exits.
        workers = [p for p in children if "-m worker" in " ".join(p.cmdline())]
        pings = PingsWhile(redis_of(children), workers)
        started = time.monotonic()
        os.killpg(launcher.pid, signal.SIGINT)
        launcher.wait(20)
        assert time.monotonic() - started < 15
        pings.thread.join(5)
        wait_until(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in children),
                   5, "every child to exit")
        output = "".join(lines)
        assert pings.pings > 0 and not pings.failures, (
            f"Redis went away before the worker exited: {len(pings.failures)} failed PINGs, first {pings.failures[:3]}")
        stops = [line for line in lines if "stopped (rc=" in line]
        assert len(stops) == 4, stops  # redis, api, worker, scheduler
        assert all("rc=0" in line for line in stops), "a process had to be killed:\n" + "".join(stops)
        # The worker's soft shutdown finished on its own: nothing was killed, by its supervisor or dev.py's.
        assert "killing them" not in output and "SIGKILL" not in output, output[-3000:]
        assert "redis.1 stopped" in stops[-1], stops
        assert output.index("worker.1 stopped") < output.index("sending SIGTERM to redis.1"), output[-3000:]
    finally:
        kill_everything(launcher)


def test_dev_that_never_gets_ready_says_so_stops_everything_and_fails() -> None:
    # Nothing listens on this Redis port, so the API's /readyz stays 503. The ready deadline runs
    # from dev.py's start: long enough that honcho has started both processes even on a loaded machine.
    env = {"API_PORT": str(free_port()), "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
           "DEV_READY_TIMEOUT_SECONDS": "10"}
    launcher, lines = launch(env)
    try:
        wait_until(lambda: "".join(lines).count("started (pid=") == 3, 30, "the API, the worker and the scheduler to start")
        wait_until(lambda: len(psutil.Process(launcher.pid).children(recursive=True)) >= 4, 10, "their processes")
        children = psutil.Process(launcher.pid).children(recursive=True)
        code = launcher.wait(40)
        output = "".join(lines)
        assert code == 1, output
        assert "API not ready on" in output and "after 10 s" in output, output
        assert "API ready on" not in output and "curl" not in output, output
        assert len([line for line in lines if "stopped (rc=" in line]) == 3, output  # api, worker, scheduler
        wait_until(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in children),
                   5, "every child to exit")
    finally:
        kill_everything(launcher)
