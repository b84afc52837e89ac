"""The README's first command: `make dev` runs Redis, the API and a worker under honcho, and Ctrl-C stops them all."""

from __future__ import annotations

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

from tests.support.ports import free_port, wait_until
from tests.support.system_packages import ensure_commands

ROOT = Path(__file__).resolve().parents[2]


def test_dev_runs_the_system_and_ctrl_c_stops_everything() -> None:
    ensure_commands({"redis-server": "redis-server"})
    api_port = free_port()
    env = {**os.environ, "API_PORT": str(api_port), "API_KEYS": "dev-test-key"}
    env.pop("REDIS_URL", None)
    # Like a terminal: its own process group, so Ctrl-C (SIGINT) reaches honcho and its children.
    launcher = subprocess.Popen(
        [sys.executable, "scripts/dev.py"], cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(launcher.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
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
        assert re.search(r"curl -s -X POST \S+/v1/tasks/add", banner)
        headers = {"Authorization": "Bearer dev-test-key"}
        base = f"http://127.0.0.1:{api_port}"
        task_id = httpx.post(f"{base}/v1/tasks/add", json={"x": 2, "y": 3}, headers=headers).json()["task_id"]

        def finished() -> bool:
            return httpx.get(f"{base}/v1/tasks/{task_id}", headers=headers).json()["state"] == "SUCCESS"

        wait_until(finished, 20, "the task's result")
        assert httpx.get(f"{base}/v1/tasks/{task_id}", headers=headers).json()["result"] == 5

        started = time.monotonic()
        os.killpg(launcher.pid, signal.SIGINT)
        launcher.wait(20)
        assert time.monotonic() - started < 15
        wait_until(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in children),
                   5, "every child to exit")
        stops = [line for line in lines if "stopped (rc=" in line]
        assert len(stops) == 5, stops
        assert all("rc=0" in line for line in stops), "a process had to be killed:\n" + "".join(stops)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
