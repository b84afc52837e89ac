"""Bad ``schedules`` and ``scheduler`` values (infra/settings/schedules.py) fail before any resource is
declared.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.invalid_config import assert_refused_before_any_resource, dev_value, with_field


def with_schedule(**fields: Any) -> dict[str, Any]:
    schedules = dev_value("schedules")
    schedules[0] = {**schedules[0], **fields}
    return {"schedules": schedules}


# (stack, overrides, fragments the message must contain)
CASES: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "schedule cron does not parse": (
        "dev",
        with_schedule(cron="*/5 * * *"),
        ["schedules[0].cron: got '*/5 * * *'; allowed: a five-field unix-cron expression"],
    ),
    "schedule cron with a bad field": (
        "dev",
        with_schedule(cron="61 * * * *"),
        ["schedules[0].cron: got '61 * * * *'"],
    ),
    "schedule time zone unknown": (
        "dev",
        with_schedule(timeZone="Mars/Olympus"),
        ["schedules[0].timeZone: got 'Mars/Olympus'; allowed: an IANA time zone"],
    ),
    "schedule task not in the catalog": (
        "dev",
        with_schedule(task="send_email"),
        ["schedules[0].task: got 'send_email'; allowed: add | external_call | flaky"],
    ),
    "schedule payload fails the task's model": (
        "dev",
        with_schedule(payload={"x": "two", "y": 3}),
        ["schedules[0].payload.x: got 'two'", "AddPayload, the 'add' task's payload"],
    ),
    "schedule payload with an unknown field": (
        "dev",
        with_schedule(payload={"x": 1, "y": 2, "z": 3}),
        ["schedules[0].payload.z: got 3", "Extra inputs are not permitted"],
    ),
    "schedule missing its cron": (
        "dev",
        {"schedules": [{"name": "nightly", "timeZone": "Etc/UTC", "task": "add", "payload": {"x": 1, "y": 1}}]},
        ["schedules[0]: got", "(missing: cron)"],
    ),
    "schedule names collide": (
        "dev",
        {"schedules": dev_value("schedules") * 2},
        ["schedules[1].name: got 'add-every-5-minutes'; allowed: a name no other schedule uses"],
    ),
    "scheduler retry window outlasts the idempotency window": (
        "dev",
        {
            **with_field("api", idempotencyWindowSeconds=600),
            "scheduler": {**dev_value("scheduler"), "maxRetryDurationSeconds": 900},
        },
        [
            "scheduler: got 'retry window 930s'",
            "shorter than api.idempotencyWindowSeconds (600s)",
        ],
    ),
    "scheduler caller not a service account": (
        "dev",
        {"scheduler": {**dev_value("scheduler"), "callers": ["alice@example.com"]}},
        ["scheduler.callers: got [\"alice@example.com\"]; allowed: a list of service account emails"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: c.replace(" ", "-"))
def test_bad_value_fails_before_any_resource(case: str) -> None:
    assert_refused_before_any_resource(*CASES[case])
