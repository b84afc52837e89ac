"""Celery beat behind a Redis lock: the alternative to Cloud Scheduler (docs/schedules.md).

``python -m worker.beat`` runs ``celery beat`` with celery-redbeat's scheduler. Every beat
process takes the same Redis lock before it sends anything, so when two revisions overlap
during a deploy (or someone scales the beat pool to two) only the lock holder fires; the
other waits and takes over once the holder's lock expires.

Environment:
- ``BEAT_SCHEDULES``: JSON list of ``{name, cron, timeZone, task, payload}`` (the stack's
  ``schedules`` entries) or ``{name, everySeconds, task, payload}`` (interval entries, a beat-only
  feature). All cron entries must share one time zone: the schedule is stored in Redis without
  one, and beat evaluates it in the app's ``timezone``.
- ``BEAT_LOCK_TIMEOUT_SECONDS``: how long a dead holder blocks the others (default 60).
- the broker variables every worker reads (``REDIS_URL``, ``REDIS_CA_FILE``).
- ``PORT``: where ``/healthz`` answers (worker.beat_health; default 8080, as on Cloud Run).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from typing import Any, Final

from celery.schedules import crontab
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from task_contract import TASKS, BrokerSettings, spec_for

DEFAULT_LOCK_TIMEOUT_SECONDS: Final = 60
KEY_PREFIX: Final = "cloudrun_celery:redbeat:"
LOCK_KEY: Final = "cloudrun_celery:redbeat:lock"
# Beat wakes at least this often: to renew the lock and to see a due entry.
MAX_LOOP_INTERVAL_SECONDS: Final = 5


class BeatSettingsError(ValueError):
    """BEAT_SCHEDULES or BEAT_LOCK_TIMEOUT_SECONDS is invalid; the message names the fix."""


class BeatEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1, max_length=100)
    task: str
    payload: dict[str, Any] = Field(default_factory=dict)
    cron: str | None = None
    time_zone: str = Field(default="Etc/UTC", alias="timeZone")
    every_seconds: float | None = Field(default=None, alias="everySeconds", gt=0)

    @model_validator(mode="after")
    def _one_schedule(self) -> BeatEntry:
        if (self.cron is None) == (self.every_seconds is None):
            raise ValueError(f"entry {self.name!r}: give exactly one of cron or everySeconds")
        if self.cron is not None and len(self.cron.split()) != 5:
            raise ValueError(f"entry {self.name!r}: cron {self.cron!r} is not a five-field unix-cron expression")
        spec = spec_for(self.task) if self.task in TASKS else None
        if spec is None:
            raise ValueError(f"entry {self.name!r}: unknown task {self.task!r}; known: {', '.join(sorted(TASKS))}")
        spec.payload.model_validate(self.payload)
        return self

    def schedule(self) -> crontab | timedelta:
        if self.every_seconds is not None:
            return timedelta(seconds=self.every_seconds)
        assert self.cron is not None
        minute, hour, day_of_month, month_of_year, day_of_week = self.cron.split()
        return crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
        )


def read_entries(text: str) -> tuple[BeatEntry, ...]:
    try:
        raw = json.loads(text)
        if not isinstance(raw, list):
            raise BeatSettingsError("BEAT_SCHEDULES must be a JSON list of {name, cron, timeZone, task, payload}")
        entries = tuple(BeatEntry.model_validate(item) for item in raw)
    except (json.JSONDecodeError, ValidationError) as exc:
        raise BeatSettingsError(f"BEAT_SCHEDULES is invalid: {exc}") from None
    zones = {e.time_zone for e in entries if e.cron is not None}
    if len(zones) > 1:
        raise BeatSettingsError(
            f"BEAT_SCHEDULES mixes time zones ({', '.join(sorted(zones))}); beat evaluates every cron "
            "entry in one zone: use one timeZone, or Cloud Scheduler jobs (per-job time zones)"
        )
    return entries


def beat_config(entries: tuple[BeatEntry, ...], broker: BrokerSettings, lock_timeout_seconds: int) -> dict[str, Any]:
    """Celery settings for a beat that only fires while it holds the Redis lock."""
    zones = {e.time_zone for e in entries if e.cron is not None}
    return {
        # redbeat's scheduler, recording each tick for /healthz (worker.beat_health).
        "beat_scheduler": "worker.beat_health:MonitoredRedBeatScheduler",
        "beat_schedule": {
            e.name: {
                "task": e.task,
                "schedule": e.schedule(),
                "kwargs": e.payload,
                "options": {"queue": spec_for(e.task).queue},
            }
            for e in entries
        },
        "timezone": zones.pop() if zones else "Etc/UTC",
        "beat_max_loop_interval": MAX_LOOP_INTERVAL_SECONDS,
        # The lock and schedule live in the broker's Redis, over the broker's TLS settings.
        "redbeat_redis_url": broker.redis_url,
        # Entries at cloudrun_celery:redbeat:<name>. The lock key is named in full: the one every
        # earlier revision used, so a deploy that overlaps two revisions still has one lock.
        "redbeat_key_prefix": KEY_PREFIX,
        "redbeat_lock_key": LOCK_KEY,
        "redbeat_lock_timeout": lock_timeout_seconds,
    }


def main() -> int:
    from worker.config import SettingsError

    try:
        from worker.app import app  # loads and checks the worker settings beat shares (PORT, REDIS_URL, ...)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    from worker.beat_health import serve_health

    try:
        entries = read_entries(os.environ.get("BEAT_SCHEDULES", "[]"))
        lock_timeout = int(os.environ.get("BEAT_LOCK_TIMEOUT_SECONDS", DEFAULT_LOCK_TIMEOUT_SECONDS))
    except (BeatSettingsError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    if lock_timeout <= MAX_LOOP_INTERVAL_SECONDS:
        print(
            f"BEAT_LOCK_TIMEOUT_SECONDS={lock_timeout} must exceed the beat loop ({MAX_LOOP_INTERVAL_SECONDS}s), "
            "or the holder loses its lock between renewals",
            file=sys.stderr,
        )
        return 2
    broker = BrokerSettings()
    app.conf.update(beat_config(entries, broker, lock_timeout))
    try:
        # PORT, validated with the worker's settings when worker.app loaded them (worker.config).
        serve_health(app, broker, int(app.conf.health_port))
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 2
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    try:
        app.start(["beat", f"--loglevel={level}"])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
