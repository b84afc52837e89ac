"""`make dev`'s supervisor (scripts/dev_supervisor.py) stops Redis last, and kills a process that will not stop.

Real processes: a real redis-server as the Procfile runs it, and small Python processes that
stand in for the API and the worker. The supervisor runs in its own process, as dev.py runs it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import redis

from tests.dev.test_dev_command import kill_everything
from tests.support.ports import free_port, wait_until
from tests.support.system_packages import ensure_commands

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "dev-supervisor-test"
# Ignores SIGTERM, as a process stuck in its shutdown would.
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(120)"
POLITE = "import time; print('up', flush=True); time.sleep(120)"
EXITS = "import sys, time; print('up', flush=True); time.sleep(3); sys.exit(3)"


def run_supervisor(processes: dict[str, str], stop_timeout: float) -> subprocess.Popen[str]:
    program = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / 'scripts')!r})
        from dev_supervisor import DevSupervisor
        supervisor = DevSupervisor(last="redis", stop_timeout={stop_timeout})
        for name, cmd in {processes!r}.items():
            supervisor.add_process(name, cmd)
        supervisor.loop()
        sys.exit(supervisor.returncode or 0)
    """)
    return subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def output_of(supervisor: subprocess.Popen[str]) -> tuple[list[str], threading.Thread]:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(supervisor.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    return lines, reader


@pytest.mark.parametrize(
    ("app", "trigger", "code"),
    [(STUBBORN, "SIGTERM", 143), (EXITS, "exit", 3)],
    ids=["sigterm-stubborn-app", "app-exits-on-its-own"],
)
def test_redis_stops_after_the_others_have_exited(app: str, trigger: str, code: int) -> None:
    ensure_commands({"redis-server": "redis-server"})
    port = free_port()
    processes = {
        "redis.1": f'exec redis-server --bind 127.0.0.1 --port {port} --requirepass {PASSWORD} --save "" --appendonly no',
        "api.1": f'exec {sys.executable} -c "{POLITE}"',
        "worker.1": f'exec {sys.executable} -c "{app}"',
    }
    supervisor = run_supervisor(processes, stop_timeout=2)
    lines, reader = output_of(supervisor)
    client = redis.Redis(port=port, password=PASSWORD, socket_timeout=1, socket_connect_timeout=1)
    try:
        wait_until(lambda: "".join(lines).count("| up") == 2 and bool(client.ping()), 20, "every process to start")
        started = time.monotonic()
        if trigger == "SIGTERM":
            supervisor.send_signal(signal.SIGTERM)
        # Redis answers until the worker has exited (killed, or on its own).
        while "worker.1 stopped" not in "".join(lines):
            assert client.ping(), "Redis stopped before the worker"
            assert time.monotonic() - started < 15, "".join(lines)
            time.sleep(0.05)
        assert supervisor.wait(10) == code
        reader.join(5)
        elapsed = time.monotonic() - started
    finally:
        kill_everything(supervisor)
    output = "".join(lines)
    order = [output.index(event) for event in (
        "worker.1 stopped", "api.1 stopped", "sending SIGTERM to redis.1", "redis.1 stopped (rc=0)")]
    assert order[2] > max(order[:2]) and order[3] > order[2], output
    if trigger == "SIGTERM":
        # The stubborn worker is killed after the bound, with a message that says what happens.
        assert "worker.1 still running 2 s after SIGTERM: killing it (SIGKILL, pid" in output, output
        assert "; redis stops once it has exited" in output, output
        assert "worker.1 stopped (rc=-9)" in output, output
        assert 2 <= elapsed < 8, elapsed
    else:
        assert "SIGKILL" not in output, output
        assert "worker.1 stopped (rc=3)" in output, output


def test_a_second_ctrl_c_kills_everything_without_waiting() -> None:
    ensure_commands({"redis-server": "redis-server"})
    port = free_port()
    processes = {
        "redis.1": f'exec redis-server --bind 127.0.0.1 --port {port} --requirepass {PASSWORD} --save "" --appendonly no',
        "worker.1": f'exec {sys.executable} -c "{STUBBORN}"',
    }
    supervisor = run_supervisor(processes, stop_timeout=30)
    lines, reader = output_of(supervisor)
    client = redis.Redis(port=port, password=PASSWORD, socket_timeout=1, socket_connect_timeout=1)
    try:
        wait_until(lambda: "| up" in "".join(lines) and bool(client.ping()), 20, "every process to start")
        supervisor.send_signal(signal.SIGINT)
        wait_until(lambda: "sending SIGTERM to worker.1" in "".join(lines), 10, "the first stop stage")
        started = time.monotonic()
        supervisor.send_signal(signal.SIGINT)
        assert supervisor.wait(10) == 130
        reader.join(5)
        elapsed = time.monotonic() - started
    finally:
        kill_everything(supervisor)
    output = "".join(lines)
    assert "SIGINT received again: killing everything now (SIGKILL)" in output, output
    assert "worker.1 stopped (rc=-9)" in output and "redis.1 stopped (rc=-9)" in output, output
    assert elapsed < 8, elapsed  # not the 30 s stop bound
