"""Real ``python -m worker.beat`` processes for the beat tests, on one entry that fires every second."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.ports import free_port
from tests.support.redis_server import RedisServer, broker_env

REPO = Path(__file__).resolve().parents[2]
SOURCE_PATHS = (REPO / "services" / "worker", REPO / "services" / "shared")
ENTRY = {"name": "add-every-second", "everySeconds": 1, "task": "add", "payload": {"x": 1, "y": 2}}
SENT = "Sending due task add-every-second"


def beat_env(redis: RedisServer, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        **broker_env(redis),
        "BEAT_SCHEDULES": json.dumps([ENTRY]),
        "PORT": str(free_port()),
        "PYTHONPATH": os.pathsep.join(str(p) for p in SOURCE_PATHS),
        **extra,
    }


def start_beat(redis: RedisServer, lock_timeout: int, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """The process and the port its /healthz answers on."""
    env = beat_env(redis, BEAT_LOCK_TIMEOUT_SECONDS=str(lock_timeout))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "worker.beat"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tempfile.gettempdir()
        )
    return process, int(env["PORT"])


def sends(log: Path) -> int:
    return log.read_text(errors="replace").count(SENT)
