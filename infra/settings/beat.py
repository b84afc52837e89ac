"""``beat``: Celery beat as a single-instance worker pool, the alternative to ``schedules`` (docs/schedules.md).

Its entries are checked here as ``schedules`` entries are: the cron parses, the task is in the
contract and the payload passes the task's model, at preview time. Beat's own limits are checked
too: every cron entry shares one time zone (celery-redbeat stores the schedule without one), and
the lock outlives beat's loop. A beat entry that repeats a ``schedules`` entry (same task, payload,
cron and time zone) would enqueue every tick twice, so it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from task_contract.catalog import TASKS

from .network import Egress
from .platform import Platform, refuse_on_gke
from .reader import ConfigReader
from .schedules import SCHEDULE_NAME_RE, Schedule, cron_expression, task_payload, time_zone_name
from .services import ContainerSize

BEAT_KEYS = frozenset({"enabled", "lockTimeoutSeconds", "entries"})
BEAT_ENTRY_KEYS = frozenset({"name", "cron", "everySeconds", "timeZone", "task", "payload"})
# services/worker/worker/beat.py wakes at least this often to renew its lock; the lock must outlive it.
BEAT_LOOP_SECONDS = 5
# Beat sends a few messages a minute: the smallest Cloud Run shape (the cost estimator prices it).
BEAT_SIZE = ContainerSize("1", "512Mi")


@dataclass(frozen=True)
class BeatEntry:
    name: str
    task: str
    payload: dict[str, Any]
    cron: str | None
    time_zone: str
    every_seconds: int | None

    def as_environment(self) -> dict[str, Any]:
        """The entry as ``BEAT_SCHEDULES`` takes it (services/worker/worker/beat.py)."""
        timing: dict[str, Any] = (
            {"everySeconds": self.every_seconds}
            if self.every_seconds is not None
            else {"cron": self.cron, "timeZone": self.time_zone}
        )
        return {"name": self.name, "task": self.task, "payload": self.payload, **timing}


@dataclass(frozen=True)
class BeatSettings:
    enabled: bool
    lock_timeout_seconds: int
    entries: tuple[BeatEntry, ...]
    size: ContainerSize = BEAT_SIZE


def read_beat(reader: ConfigReader, egress: Egress, schedules: tuple[Schedule, ...]) -> BeatSettings:
    cfg = reader.section("beat", BEAT_KEYS)
    enabled = reader.boolean("beat.enabled", cfg.get("enabled"), False)
    lock_timeout = reader.integer(
        "beat.lockTimeoutSeconds", cfg.get("lockTimeoutSeconds"), 60, BEAT_LOOP_SECONDS * 2, 3600
    )
    raw_entries = cfg.get("entries")
    if not enabled:
        if raw_entries:
            reader.fail("beat.enabled", cfg.get("enabled"), "true when beat.entries is set (or remove beat.entries)")
        return BeatSettings(False, lock_timeout, ())
    if egress != "direct":
        reader.fail(
            "beat.enabled",
            enabled,
            "false, or network.egress: direct (beat runs as a worker pool, and worker pools cannot use a VPC connector)",
        )
    if not isinstance(raw_entries, list) or not raw_entries:
        reader.fail(
            "beat.entries",
            raw_entries,
            "a non-empty list of {name, cron, timeZone, task, payload} or {name, everySeconds, task, payload}",
        )
        return BeatSettings(True, lock_timeout, ())
    entries = _entries(reader, raw_entries)
    zones = sorted({e.time_zone for e in entries if e.cron is not None})
    if len(zones) > 1:
        reader.fail(
            "beat.entries",
            f"time zones {', '.join(zones)}",
            "one timeZone for every cron entry (beat evaluates them all in one zone); "
            "use schedules (Cloud Scheduler, a time zone per job) for the others",
        )
    for entry in entries:
        for schedule in schedules:
            if (entry.task, entry.payload, entry.cron, entry.time_zone) == (
                schedule.task,
                schedule.payload,
                schedule.cron,
                schedule.time_zone,
            ):
                reader.fail(
                    f"beat.entries[{entry.name}]",
                    f"{entry.task} at {entry.cron} {entry.time_zone}",
                    f"a tick schedules[{schedule.name}] does not already fire: both would enqueue "
                    "it, twice per tick; keep one of them",
                )
    return BeatSettings(True, lock_timeout, entries)


def refuse_beat_on_gke(reader: ConfigReader, platform: Platform, beat: BeatSettings) -> None:
    instead = (
        "the beat pool is a Cloud Run worker pool; on GKE use `schedules`, which run as Cloud Scheduler "
        "jobs or CronJobs, docs/kubernetes.md"
    )
    refuse_on_gke(reader, platform, "beat.enabled", beat.enabled, instead)


def _entries(reader: ConfigReader, raw: list[Any]) -> tuple[BeatEntry, ...]:
    entries: list[BeatEntry] = []
    names: set[str] = set()
    for index, item in enumerate(raw):
        key = f"beat.entries[{index}]"
        cfg = reader.object(key, BEAT_ENTRY_KEYS, item)
        missing = sorted({"name", "task"} - set(cfg))
        timed = ("cron" in cfg) + ("everySeconds" in cfg)
        if item is None or missing or timed != 1:
            reader.fail(
                key,
                item,
                "an object with name, task, payload and exactly one of cron (with timeZone) or everySeconds"
                + (f" (missing: {', '.join(missing)})" if missing else ""),
            )
            continue
        name = reader.text(f"{key}.name", cfg["name"], "", SCHEDULE_NAME_RE, "1-40 chars of a-z 0-9 -, starting with a letter")
        if name in names:
            reader.fail(f"{key}.name", name, "a name no other beat entry uses")
        names.add(name)
        cron: str | None = None
        every: int | None = None
        zone = "Etc/UTC"
        if "cron" in cfg:
            cron = cron_expression(reader, f"{key}.cron", cfg["cron"])
            zone = time_zone_name(reader, f"{key}.timeZone", cfg.get("timeZone", "Etc/UTC"))
        else:
            every = reader.integer(f"{key}.everySeconds", cfg["everySeconds"], 0, 10, 86_400)
            if "timeZone" in cfg:
                reader.fail(f"{key}.timeZone", cfg["timeZone"], "unset with everySeconds (an interval has no time zone)")
        task = reader.choice(f"{key}.task", cfg["task"], "", tuple(sorted(TASKS)))
        payload = task_payload(reader, f"{key}.payload", task, cfg.get("payload", {}))
        if name and task and payload is not None and (cron or every) and zone:
            entries.append(BeatEntry(name, task, payload, cron, zone, every))
    return tuple(entries)
