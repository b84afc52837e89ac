"""`make dev`: run Redis, the API and a worker locally under honcho.

Without ``REDIS_URL`` it starts a private redis-server (AUTH on) on a free port;
with ``REDIS_URL`` set it uses that Redis and starts only the API and the worker.
honcho runs the processes (scripts/dev_supervisor.py): Ctrl-C stops the API, the worker and the
scheduler first and Redis once they have exited, so the worker's soft shutdown still reaches it.

honcho runs through its Python API so that this script, not honcho, prints the "API ready"
banner: without honcho's line prefixes, so the curl example pastes as printed. If the API is
not ready within ``DEV_READY_TIMEOUT_SECONDS`` (60), it says so, stops everything and exits 1.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = float(os.environ.get("DEV_READY_TIMEOUT_SECONDS", "60"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# The local scheduler signs ID tokens as this account; the API accepts it (docs/schedules.md).
LOCAL_SCHEDULER = "local-scheduler@cloudrun-celery-dev.iam.gserviceaccount.com"


def dev_environment(flower: bool = False) -> tuple[dict[str, str], list[str]]:
    """The processes' environment and the Procfile entries to run."""
    env = dict(os.environ)
    processes = ["api", "worker", "scheduler"]
    if not env.get("REDIS_URL"):
        if shutil.which("redis-server") is None:
            sys.exit(
                "redis-server not found. Install it (Debian/Ubuntu: sudo apt-get install redis-server; "
                "macOS: brew install redis) or point REDIS_URL at a Redis you already run."
            )
        env["REDIS_PORT"] = str(free_port())
        env["REDIS_PASSWORD"] = secrets.token_urlsafe(16)
        env["REDIS_URL"] = f"redis://:{env['REDIS_PASSWORD']}@127.0.0.1:{env['REDIS_PORT']}/0"
        processes.insert(0, "redis")
    env.setdefault("API_PORT", "8000" if port_is_free(8000) else str(free_port()))
    env.setdefault("WORKER_PORT", str(free_port()))
    env.setdefault("API_KEYS", "dev-key")
    # The schedules of Pulumi.dev.yaml, fired by scripts/local_scheduler.py like Cloud Scheduler.
    env.setdefault("CERTS_PORT", str(free_port()))
    env["SCHEDULER_CALLERS"] = LOCAL_SCHEDULER
    env["GOOGLE_ID_AUDIENCE"] = f"http://127.0.0.1:{env['API_PORT']}"
    env["GOOGLE_CERTS_URL"] = f"http://127.0.0.1:{env['CERTS_PORT']}/certs"
    if flower:
        # Flower needs the worker's task events and heartbeats (off otherwise).
        env["WORKER_EVENTS"] = "true"
        env.setdefault("FLOWER_PORT", "5555" if port_is_free(5555) else str(free_port()))
        processes.append("flower")
    # The Procfile says `python`: make that this virtualenv's interpreter.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return env, processes


def api_ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def banner(base: str, key: str, flower_port: str | None = None, own_redis: bool = True) -> str:
    flower = f"\nFlower on http://127.0.0.1:{flower_port}" if flower_port else ""
    stops = "then Redis" if own_redis else "and leaves the Redis at REDIS_URL running"
    return f"""
API ready on {base}  (docs: {base}/docs, metrics: {base}/metrics)
Submit a task and read its result:

  curl -s -X POST {base}/v1/tasks/add -H 'Authorization: Bearer {key}' \\
       -H 'Content-Type: application/json' -d '{{"x": 2, "y": 3}}'
  curl -s {base}/v1/tasks/<task_id> -H 'Authorization: Bearer {key}'

The local scheduler fires the schedules of Pulumi.dev.yaml (its lines: "local scheduler: ...").{flower}
Ctrl-C stops the API, the worker and the scheduler, {stops}.

"""


class Announcer:
    """Waits for the API's /readyz, then prints the banner; on a timeout stops everything instead."""

    def __init__(
        self, base: str, key: str, timeout: float, flower_port: str | None = None, own_redis: bool = True
    ) -> None:
        self.base, self.key, self.timeout, self.flower_port = base, key, timeout, flower_port
        self.own_redis = own_redis
        self.timed_out = False
        self.stopped = threading.Event()  # set once the supervisor has stopped the processes

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.stopped.is_set():
            if api_ready(self.base):
                # One write, outside honcho's printer: no line prefixes.
                sys.stdout.write(banner(self.base, self.key, self.flower_port, self.own_redis))
                sys.stdout.flush()
                return
            if time.monotonic() > deadline:
                self.timed_out = True
                sys.stdout.write(
                    f"\nAPI not ready on {self.base} after {self.timeout:.0f} s: see the api and redis "
                    "lines above for why. Stopping everything.\n\n"
                )
                sys.stdout.flush()
                # The supervisor's SIGTERM handler (main thread) stops every process, Redis last.
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.5)


def main() -> int:
    from honcho.environ import expand_processes, parse_procfile

    from dev_supervisor import DevSupervisor  # scripts/ is sys.path[0]: dev.py runs as a script

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flower", action="store_true", help="also run Flower (task events on), make dev FLOWER=1")
    args = parser.parse_args()
    env, names = dev_environment(args.flower)
    procfile = parse_procfile((ROOT / "Procfile").read_text())
    supervisor = DevSupervisor(last="redis")
    for process in expand_processes({name: procfile.processes[name] for name in names}):
        supervisor.add_process(process.name, process.cmd, env={**env, **process.env}, cwd=str(ROOT))

    announcer = Announcer(
        f"http://127.0.0.1:{env['API_PORT']}",
        env["API_KEYS"].split(",")[0],
        READY_TIMEOUT_SECONDS,
        env.get("FLOWER_PORT"),
        own_redis="redis" in names,
    )
    threading.Thread(target=announcer.run, name="announcer", daemon=True).start()
    supervisor.loop()
    announcer.stopped.set()
    if announcer.timed_out:
        return 1
    return int(supervisor.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())
