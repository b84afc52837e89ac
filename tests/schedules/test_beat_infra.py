"""Celery beat as an infra option (``beat.enabled``), as the program declares it (Pulumi mocks).

One worker pool of exactly one instance running ``python -m worker.beat``, its own account that
reads the broker's secrets and nothing else, and entries that ``worker.beat`` itself accepts.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from worker.beat import beat_config, read_entries

from task_contract import BrokerSettings
from tests.infra.harness import ProgramError, ProgramRun, run_program_full

POOL = "gcp:cloudrunv2/workerPool:WorkerPool"
ACCOUNT = "gcp:serviceaccount/account:Account"
SECRET_IAM = "gcp:secretmanager/secretIamMember:SecretIamMember"
BEAT_ACCOUNT = "serviceAccount:celery-prod-beat@my-gcp-project-prod.iam.gserviceaccount.com"
ENTRIES = [
    {"name": "add-hourly", "cron": "0 * * * *", "timeZone": "Europe/Paris", "task": "add", "payload": {"x": 1, "y": 2}},
    {"name": "add-every-minute", "everySeconds": 60, "task": "add", "payload": {"x": 3, "y": 4}},
]


@pytest.fixture(scope="module")
def with_beat() -> ProgramRun:
    return run_program_full("prod", {"beat": {"enabled": True, "entries": ENTRIES}})


def _env(pool: Any) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in pool.inputs["template"]["containers"][0]["envs"]}


def test_beat_is_one_worker_pool_of_exactly_one_instance_running_worker_beat(with_beat: ProgramRun) -> None:
    pool = with_beat.named(POOL, "beat")
    assert pool.inputs["name"] == "celery-prod-beat"
    assert pool.parent_type == "cloudrun-celery:infra:BeatPool"
    assert pool.inputs["scaling"] == {"scalingMode": "MANUAL", "manualInstanceCount": 1}
    (container,) = pool.inputs["template"]["containers"]
    assert (container["commands"], container["args"]) == (["/opt/venv/bin/python"], ["-m", "worker.beat"])
    assert pool.inputs["template"]["serviceAccount"].startswith("celery-prod-beat@")
    assert with_beat.exports["beat_pool"] == "celery-prod-beat"
    # The autoscaler scales only the queue-depth groups; it never gets the beat pool.
    autoscaler_targets = json.dumps([r.inputs for r in with_beat.resources if "autoscaler" in r.name.lower()])
    assert "celery-prod-beat" not in autoscaler_targets


def test_beat_environment_is_the_broker_and_entries_worker_beat_accepts(with_beat: ProgramRun) -> None:
    env = _env(with_beat.named(POOL, "beat"))
    assert set(env) == {
        "BEAT_SCHEDULES", "BEAT_LOCK_TIMEOUT_SECONDS", "REDIS_URL", "REDIS_CA_FILE",
        "LOG_LEVEL", "RESULT_TTL_SECONDS", "TASK_TIME_LIMIT_SECONDS", "GOOGLE_CLOUD_PROJECT",
    }
    assert env["BEAT_LOCK_TIMEOUT_SECONDS"] == "60"
    # The worker's own parser reads what the program rendered: same names, tasks and timing.
    entries = read_entries(env["BEAT_SCHEDULES"])
    config = beat_config(entries, BrokerSettings(redis_url="redis://127.0.0.1:6379/0"), 60)
    assert set(config["beat_schedule"]) == {"add-hourly", "add-every-minute"}
    assert config["timezone"] == "Europe/Paris"
    assert config["beat_schedule"]["add-hourly"]["kwargs"] == {"x": 1, "y": 2}


def test_beat_account_reads_the_broker_secrets_and_nothing_else(with_beat: ProgramRun) -> None:
    assert "celery-prod-beat" in {a.inputs["accountId"] for a in with_beat.of_type(ACCOUNT)}
    granted = {m.inputs["secretId"] for m in with_beat.of_type(SECRET_IAM) if m.inputs["member"] == BEAT_ACCOUNT}
    assert granted == {"celery-prod-redis-url", "celery-prod-redis-ca"}
    # No other grant names it: no metric writer (beat exports no metrics), no project role.
    others = [
        r for r in with_beat.resources
        if r.type_ != SECRET_IAM and r.inputs.get("member") == BEAT_ACCOUNT
    ]
    assert others == []


def test_beat_disabled_declares_nothing(prod: ProgramRun) -> None:
    assert not any(p.name == "beat" for p in prod.of_type(POOL))
    assert not any(a.name == "beat" for a in prod.of_type(ACCOUNT))
    assert prod.exports["beat_pool"] is None


NIGHTLY = {"name": "nightly", "cron": "0 3 * * *", "timeZone": "Europe/Paris", "task": "external_call",
           "payload": {"latency_seconds": 1}}
BAD: dict[str, tuple[str, dict[str, Any], str]] = {
    "entries without enabled": ("prod", {"entries": ENTRIES}, "beat.enabled: got null; allowed: true when beat.entries"),
    "enabled without entries": ("prod", {"enabled": True}, "beat.entries: got null; allowed: a non-empty list"),
    "on a connector network": (
        "dev", {"enabled": True, "entries": ENTRIES}, "beat.enabled: got true; allowed: false, or network.egress: direct"),
    "unknown task": (
        "prod", {"enabled": True, "entries": [{**ENTRIES[1], "task": "nope"}]}, "beat.entries[0].task: got 'nope'"),
    "payload fails the task's model": (
        "prod", {"enabled": True, "entries": [{**ENTRIES[1], "payload": {"x": "one"}}]}, "beat.entries[0].payload.x"),
    "cron and everySeconds": (
        "prod", {"enabled": True, "entries": [{**ENTRIES[0], "everySeconds": 60}]}, "exactly one of cron"),
    "bad cron": ("prod", {"enabled": True, "entries": [{**ENTRIES[0], "cron": "@hourly"}]}, "beat.entries[0].cron"),
    "two time zones": (
        "prod",
        {"enabled": True, "entries": [ENTRIES[0], {**ENTRIES[0], "name": "b", "timeZone": "Etc/UTC"}]},
        "one timeZone for every cron entry",
    ),
    "same name twice": ("prod", {"enabled": True, "entries": [ENTRIES[1], ENTRIES[1]]}, "a name no other beat entry"),
    "lock shorter than beat's loop": (
        "prod", {"enabled": True, "entries": ENTRIES, "lockTimeoutSeconds": 5}, "beat.lockTimeoutSeconds: got 5"),
    "the same tick as a Cloud Scheduler job": (
        "prod",
        {"enabled": True, "entries": [NIGHTLY]},
        "a tick schedules[nightly-report] does not already fire",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD), ids=lambda c: c.replace(" ", "-"))
def test_bad_beat_config_fails_before_any_resource(case: str) -> None:
    stack, beat, fragment = BAD[case]
    with pytest.raises(ProgramError) as failure:
        run_program_full(stack, {"beat": beat})
    assert type(failure.value.original).__name__ == "InvalidConfig", repr(failure.value.original)
    assert fragment in str(failure.value)
    assert failure.value.resources == []


def test_beat_pool_probes_beats_healthz(with_beat: ProgramRun) -> None:
    (container,) = with_beat.named(POOL, "beat").inputs["template"]["containers"]
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": 8080}, probe
    # Replaced after a minute of 503s (worker/beat_health.py says when it answers 503).
    liveness = container["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] == 60
