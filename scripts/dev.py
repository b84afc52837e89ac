"""`make dev`: run Redis, the API and a worker locally under honcho.

Without ``REDIS_URL`` it starts a private redis-server (AUTH on) on a free port;
with ``REDIS_URL`` set it uses that Redis and starts only the API and the worker.
honcho supervises the processes: Ctrl-C stops them all.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


def launch(flower: bool) -> None:
    env = dict(os.environ)
    processes = ["api", "worker", "scheduler", "ready"]
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
        processes.insert(-1, "flower")
    # The Procfile says `python`: make that this virtualenv's interpreter.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    os.environ.clear()
    os.environ.update(env)

    import honcho.command
    import honcho.manager

    # Stop like Cloud Run does: SIGTERM, then SIGKILL after 10 s (honcho's own default is 5 s,
    # shorter than the worker's soft shutdown).
    honcho.manager.KILL_WAIT = 10
    sys.argv = ["honcho", "start", "-f", str(ROOT / "Procfile"), "-d", str(ROOT), *processes]
    honcho.command.main()


def announce() -> None:
    """Wait until the API is ready, print how to use it, then idle until honcho stops us."""
    port, key = os.environ["API_PORT"], os.environ["API_KEYS"].split(",")[0]
    flower_port = os.environ.get("FLOWER_PORT")
    flower = f"\nFlower on http://127.0.0.1:{flower_port}" if flower_port else ""
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            print(f"API not ready on {base} after 60 s; see the api and redis lines above", flush=True)
            break
        time.sleep(0.5)
    print(
        f"""
API ready on {base}  (docs: {base}/docs, metrics: {base}/metrics)
Submit a task and read its result:

  curl -s -X POST {base}/v1/tasks/add -H 'Authorization: Bearer {key}' \\
       -H 'Content-Type: application/json' -d '{{"x": 2, "y": 3}}'
  curl -s {base}/v1/tasks/<task_id> -H 'Authorization: Bearer {key}'

The local scheduler fires the schedules of Pulumi.dev.yaml (its lines: "local scheduler: ...").{flower}
Ctrl-C stops Redis, the API, the worker and the scheduler.
""",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pause()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--flower", action="store_true", help="also run Flower (task events on), make dev FLOWER=1")
    args = parser.parse_args()
    announce() if args.announce else launch(args.flower)
