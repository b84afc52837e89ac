"""Beat's /healthz (worker.beat_health), the beat pool's probe: real beats, a real redis-server.

A frozen Redis (SIGSTOP: sockets stay open, nothing answers) turns both the holder and the
standby to 503 within the documented bound (docs/schedules.md, "Beat's health"); SIGCONT turns
them back to 200. A standby waiting for the lock answers 200: a restart would not help it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.schedules.beat_process import sends, start_beat
from tests.support.ports import wait_until
from tests.support.redis_server import RedisServer

# worker.beat_health: REDIS_STALE_SECONDS + PING_INTERVAL_SECONDS + PING_TIMEOUT_SECONDS, the bound
# docs/schedules.md states; the margin is for this shared, loaded test machine.
DOCUMENTED_503_SECONDS = 5.0
MARGIN_SECONDS = 4.0


def healthz(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.slow
def test_beat_healthz_follows_redis_and_the_standby_is_healthy(redis_server: RedisServer, tmp_path: Path) -> None:
    assert redis_server.process is not None
    logs = [tmp_path / "holder.log", tmp_path / "standby.log"]
    beats: list[subprocess.Popen[bytes]] = []
    try:
        holder, holder_port = start_beat(redis_server, 20, logs[0])
        beats.append(holder)
        wait_until(lambda: sends(logs[0]) >= 1 and healthz(holder_port)[0] == 200, 30, "the first beat to fire")
        standby, standby_port = start_beat(redis_server, 20, logs[1])
        beats.append(standby)
        wait_until(lambda: healthz(standby_port)[0] == 200, 30, "the second beat's /healthz 200")
        assert healthz(holder_port)[1]["role"] == "holder"
        assert healthz(standby_port)[1] == {
            "status": "ok", "role": "standby", "reason": "waiting for the lock another beat holds"
        }
        assert sends(logs[1]) == 0

        redis_server.process.send_signal(signal.SIGSTOP)
        frozen = time.monotonic()
        try:
            for port in (holder_port, standby_port):
                left = DOCUMENTED_503_SECONDS + MARGIN_SECONDS - (time.monotonic() - frozen)
                wait_until(lambda port=port: healthz(port)[0] == 503, left, f"beat on :{port} to answer 503")
            status, body = healthz(holder_port)
            assert status == 503 and body["reason"].startswith("cannot reach Redis"), body
        finally:
            redis_server.process.send_signal(signal.SIGCONT)
        for port in (holder_port, standby_port):
            wait_until(lambda port=port: healthz(port)[0] == 200, 15, f"beat on :{port} to answer 200 again")
        # The holder kept its lock through the freeze and fires again; the standby still waits.
        fired = sends(logs[0])
        wait_until(lambda: sends(logs[0]) > fired, 15, "the holder to fire again")
        assert healthz(holder_port)[1]["role"] == "holder"
        assert sends(logs[1]) == 0
    finally:
        for beat in beats:
            beat.kill()
            beat.wait(10)


def test_a_holder_whose_loop_stopped_ticking_answers_503() -> None:
    # The one cause the real-process test cannot produce without freezing Redis too: a stuck main
    # thread while Redis answers. A fake clock stands in for the wait.
    from worker.beat_health import TICK_STALE_SECONDS, BeatHealth

    now = [100.0]
    health = BeatHealth(clock=lambda: now[0])
    health.pinged(None)
    health.ticked()
    assert health.report()[0] == 200
    now[0] += TICK_STALE_SECONDS + 1
    health.pinged(None)
    status, body = health.report()
    assert (status, body["role"]) == (503, "holder")
    assert body["reason"] == f"the beat loop has not ticked for {TICK_STALE_SECONDS + 1:.0f}s"
