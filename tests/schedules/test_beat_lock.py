"""The beat alternative: two ``python -m worker.beat`` processes on one Redis fire each tick once.

Real processes, real Redis (with AUTH, like Memorystore). Ticks are counted twice: the
"Sending due task" lines in each beat's log and the messages on the task's queue.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.schedules.beat_process import ENTRY, beat_env, sends, start_beat
from tests.support.ports import wait_until
from tests.support.redis_server import RedisServer


def settled(read_logs: Callable[[], list[int]], redis: RedisServer) -> tuple[list[int], int]:
    """Each beat's sends (from its log) and the queue's length, once the two agree.

    Beat logs "Sending due task" just before it publishes, so for a moment a log is one ahead;
    a tick sent twice would leave the queue ahead of the logs for good, and they never agree.
    """
    last: tuple[list[int], int] | None = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        before = read_logs()
        queued = int(redis.client().llen("high"))
        if read_logs() == before:
            last = (before, queued)
            if queued == sum(before):
                return last
        time.sleep(0.1)
    raise AssertionError(f"the queue never matched beat's logs within 10 s: (sends, queued) = {last}")


@pytest.mark.slow
def test_two_beats_at_once_fire_each_tick_once_and_the_second_takes_over(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    logs = [tmp_path / "beat-a.log", tmp_path / "beat-b.log"]
    beats = [start_beat(redis_server, 6, log)[0] for log in logs]
    try:
        wait_until(lambda: sum(sends(log) for log in logs) >= 6, 40, "six ticks sent")
        time.sleep(2)
        counts = [sends(log) for log in logs]
        # One holder sends every tick; the other has sent nothing while the holder lives.
        assert sorted(counts)[0] == 0, counts
        holder = counts.index(max(counts))
        # The entry and the lock under cloudrun_celery:redbeat: (the lock key every revision used).
        keys = {key.decode() for key in redis_server.client().keys("cloudrun_celery:*")}
        assert {"cloudrun_celery:redbeat:add-every-second", "cloudrun_celery:redbeat:lock"} <= keys, keys
        # Every send is one message, and about one per second: never two per tick. A tick can land
        # between reading the logs and the list, so read both until a tick did not interleave.
        counts, queued = settled(lambda: [sends(log) for log in logs], redis_server)
        assert queued == sum(counts) == max(counts)
        # The holder dies without releasing its lock: the other fires once the lock expires.
        beats[holder].send_signal(signal.SIGKILL)
        beats[holder].wait(10)
        other = logs[1 - holder]
        wait_until(lambda: sends(other) >= 2, 30, "the second beat to take over the lock")
        assert sends(logs[holder]) == counts[holder]
        # The queue holds the holder's sends plus the taker's, each tick once.
        settled(lambda: [counts[holder], sends(other)], redis_server)
    finally:
        for beat in beats:
            if beat.poll() is None:
                beat.kill()
                beat.wait(10)


def test_bad_beat_schedule_names_the_fix(redis_server: RedisServer, tmp_path: Path) -> None:
    env = beat_env(
        redis_server,
        BEAT_SCHEDULES=json.dumps(
            [{**ENTRY, "everySeconds": None, "cron": "0 3 * * *", "timeZone": "Europe/Paris"},
             {**ENTRY, "name": "b", "everySeconds": None, "cron": "0 4 * * *", "timeZone": "Etc/UTC"}]
        ),
    )
    done = subprocess.run([sys.executable, "-m", "worker.beat"], env=env, capture_output=True, timeout=60)
    assert done.returncode == 2
    assert "mixes time zones (Etc/UTC, Europe/Paris)" in done.stderr.decode()


def test_bad_worker_setting_in_beat_names_it_without_a_traceback(redis_server: RedisServer) -> None:
    env = beat_env(redis_server, PORT="abc")
    done = subprocess.run([sys.executable, "-m", "worker.beat"], env=env, capture_output=True, timeout=60)
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert "PORT" in stderr and "Traceback" not in stderr, stderr
