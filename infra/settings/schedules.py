"""``schedules`` and ``scheduler``: tasks enqueued on a cron by Cloud Scheduler (docs/schedules.md).

Each schedule names a task of the contract (``task_contract.TASKS``) and a payload that must
pass that task's pydantic model here, at preview time, not at 3 a.m. when the job first fires.
The scheduler's retry window is checked against the API's idempotency window: a retry that
arrives after the tick's idempotency key expired would enqueue the tick a second time.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

from croniter import croniter
from pydantic import ValidationError
from task_contract.catalog import TASKS

from .platform import Platform
from .reader import ConfigReader
from .services import ApiSettings

SCHEDULE_KEYS = frozenset({"name", "cron", "timeZone", "task", "payload"})
SCHEDULER_KEYS = frozenset(
    {
        "retryCount",
        "attemptDeadlineSeconds",
        "minBackoffSeconds",
        "maxBackoffSeconds",
        "maxRetryDurationSeconds",
        "callers",
    }
)
# Cloud Scheduler job ids allow [a-zA-Z0-9_-]{1,500}; the stack prefix is added in front.
SCHEDULE_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
SERVICE_ACCOUNT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9.-]+\.iam\.gserviceaccount\.com$")


@dataclass(frozen=True)
class Schedule:
    name: str
    cron: str
    time_zone: str
    task: str
    payload: dict[str, Any]


# platform: gke with a private API runs the schedules as CronJobs (docs/kubernetes.md). A tick
# that could not start within this long after its minute is skipped, never run late; unset, the
# controller would also stop a CronJob that missed more than 100 starts.
CRON_STARTING_DEADLINE_SECONDS = 60


@dataclass(frozen=True)
class SchedulerRetry:
    """Cloud Scheduler's retry_config and attempt deadline, all explicit (docs/schedules.md)."""

    retry_count: int
    attempt_deadline_seconds: int
    min_backoff_seconds: int
    max_backoff_seconds: int
    max_retry_duration_seconds: int

    @property
    def retry_window_seconds(self) -> int:
        """The latest a retry of one tick can start, after its schedule time (an upper bound).

        Every attempt may run to its deadline and every backoff may reach its maximum; Cloud
        Scheduler stops retrying once maxRetryDuration has passed (0 means no limit).
        """
        by_count = (self.retry_count + 1) * self.attempt_deadline_seconds + self.retry_count * self.max_backoff_seconds
        if self.max_retry_duration_seconds == 0:
            return by_count
        return min(by_count, self.max_retry_duration_seconds + self.attempt_deadline_seconds)


@dataclass(frozen=True)
class SchedulerSettings:
    schedules: tuple[Schedule, ...]
    retry: SchedulerRetry
    # Google service accounts, besides the stack's own scheduler account, whose ID tokens the API accepts.
    extra_callers: tuple[str, ...]


def read_scheduler(reader: ConfigReader, idempotency_window_seconds: int) -> SchedulerSettings:
    retry = _read_retry(reader)
    schedules = _read_schedules(reader)
    cfg = reader.section("scheduler", SCHEDULER_KEYS)
    callers = cfg.get("callers", [])
    if not isinstance(callers, list) or not all(
        isinstance(c, str) and SERVICE_ACCOUNT_RE.fullmatch(c) for c in callers
    ):
        reader.fail("scheduler.callers", callers, "a list of service account emails (name@project.iam.gserviceaccount.com)")
        callers = []
    if schedules and retry.retry_window_seconds >= idempotency_window_seconds:
        reader.fail(
            "scheduler",
            f"retry window {retry.retry_window_seconds}s",
            f"a retry window shorter than api.idempotencyWindowSeconds ({idempotency_window_seconds}s), "
            "or a retried tick could be enqueued twice: lower scheduler.retryCount, "
            "maxBackoffSeconds or maxRetryDurationSeconds, or raise api.idempotencyWindowSeconds",
        )
    return SchedulerSettings(schedules=schedules, retry=retry, extra_callers=tuple(callers))


def check_cron_tick_deadline(
    reader: ConfigReader, platform: Platform, api: ApiSettings, scheduler: SchedulerSettings
) -> None:
    cron_deadline = scheduler.retry.retry_window_seconds + CRON_STARTING_DEADLINE_SECONDS
    if platform == "gke" and not api.public and scheduler.schedules and cron_deadline >= api.idempotency_window_seconds:
        reader.fail(
            "scheduler",
            f"CronJob tick deadline {cron_deadline}s",
            f"shorter than api.idempotencyWindowSeconds ({api.idempotency_window_seconds}s): on GKE a "
            f"private API's schedules are CronJobs, whose last retry may post up to the start deadline "
            f"({CRON_STARTING_DEADLINE_SECONDS}s) + the retry window after the tick; lower scheduler.retryCount, "
            "maxBackoffSeconds or maxRetryDurationSeconds, or raise api.idempotencyWindowSeconds",
        )


def _read_retry(reader: ConfigReader) -> SchedulerRetry:
    cfg = reader.section("scheduler", SCHEDULER_KEYS)
    retry = SchedulerRetry(
        retry_count=reader.integer("scheduler.retryCount", cfg.get("retryCount"), 3, 0, 5),
        # Cloud Scheduler's HTTP attempt deadline: 15 s to 30 min.
        attempt_deadline_seconds=reader.integer(
            "scheduler.attemptDeadlineSeconds", cfg.get("attemptDeadlineSeconds"), 30, 15, 1800
        ),
        min_backoff_seconds=reader.integer("scheduler.minBackoffSeconds", cfg.get("minBackoffSeconds"), 10, 1, 3600),
        max_backoff_seconds=reader.integer("scheduler.maxBackoffSeconds", cfg.get("maxBackoffSeconds"), 300, 1, 3600),
        max_retry_duration_seconds=reader.integer(
            "scheduler.maxRetryDurationSeconds", cfg.get("maxRetryDurationSeconds"), 900, 0, 86_400
        ),
    )
    if retry.min_backoff_seconds > retry.max_backoff_seconds:
        reader.fail(
            "scheduler.minBackoffSeconds",
            retry.min_backoff_seconds,
            f"at most scheduler.maxBackoffSeconds ({retry.max_backoff_seconds})",
        )
    return retry


def _read_schedules(reader: ConfigReader) -> tuple[Schedule, ...]:
    raw = reader.json_value("schedules")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        reader.fail("schedules", raw, "a list of {name, cron, timeZone, task, payload}")
        return ()
    schedules: list[Schedule] = []
    names: set[str] = set()
    for index, item in enumerate(raw):
        key = f"schedules[{index}]"
        cfg = reader.object(key, SCHEDULE_KEYS, item)
        missing = sorted(SCHEDULE_KEYS - {"payload"} - set(cfg))
        if item is None or missing:
            reader.fail(key, item, f"an object with {', '.join(sorted(SCHEDULE_KEYS))} (missing: {', '.join(missing)})")
            continue
        name = reader.text(
            f"{key}.name", cfg["name"], "", SCHEDULE_NAME_RE, "1-40 chars of a-z 0-9 -, starting with a letter"
        )
        if name in names:
            reader.fail(f"{key}.name", name, "a name no other schedule uses")
        names.add(name)
        cron = cron_expression(reader, f"{key}.cron", cfg["cron"])
        time_zone = time_zone_name(reader, f"{key}.timeZone", cfg["timeZone"])
        task = reader.choice(f"{key}.task", cfg["task"], "", tuple(sorted(TASKS)))
        payload = task_payload(reader, f"{key}.payload", task, cfg.get("payload", {}))
        if name and cron and time_zone and task and payload is not None:
            schedules.append(Schedule(name, cron, time_zone, task, payload))
    return tuple(schedules)


def cron_expression(reader: ConfigReader, key: str, value: Any) -> str:
    # Cloud Scheduler takes unix-cron: exactly five fields, no seconds and no @-shortcuts.
    if not isinstance(value, str) or len(value.split()) != 5 or not croniter.is_valid(value):
        reader.fail(key, value, "a five-field unix-cron expression such as '*/15 * * * *' or '0 3 * * 1-5'")
        return ""
    return " ".join(value.split())


def time_zone_name(reader: ConfigReader, key: str, value: Any) -> str:
    allowed = "an IANA time zone such as Etc/UTC or Europe/Paris"
    if not isinstance(value, str) or not value:
        reader.fail(key, value, allowed)
        return ""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        reader.fail(key, value, allowed)
        return ""
    return value


def task_payload(reader: ConfigReader, key: str, task: str, value: Any) -> dict[str, Any] | None:
    if not task:
        return None
    model = TASKS[task].payload
    if not isinstance(value, dict):
        reader.fail(key, value, f"an object matching the {task!r} task's payload ({model.__name__})")
        return None
    try:
        validated: dict[str, Any] = model.model_validate(value).model_dump(mode="json")
        return validated
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            reader.fail(
                f"{key}.{field}" if field else key,
                error.get("input"),
                f"{error['msg']} ({model.__name__}, the {task!r} task's payload)",
            )
        return None
