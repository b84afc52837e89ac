"""Cloud Scheduler jobs, their caller identity and Flower, as the program declares them (Pulumi mocks)."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.infra.harness import MockedResource, ProgramRun, run_program_full, stack_config

JOB = "gcp:cloudscheduler/job:Job"
ACCOUNT = "gcp:serviceaccount/account:Account"
RUN_SERVICE = "gcp:cloudrunv2/service:Service"
RUN_INVOKER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"


def api_env(run: ProgramRun) -> dict[str, Any]:
    api = run.named(RUN_SERVICE, "api")
    return {e["name"]: e.get("value") for e in api.inputs["template"]["containers"][0]["envs"]}


def config_value(key: str) -> Any:
    config, _ = stack_config("dev")
    return json.loads(config[f"cloudrun-celery:{key}"])


def test_each_schedule_is_a_job_calling_the_enqueue_endpoint_with_an_oidc_token(
    stack_run: ProgramRun,
) -> None:
    config, _ = stack_config(stack_run.stack)
    schedules = json.loads(config["cloudrun-celery:schedules"])
    jobs = {j.inputs["name"]: j for j in stack_run.of_type(JOB)}
    prefix = config["cloudrun-celery:namePrefix"]
    assert set(jobs) == {f"{prefix}-{s['name']}" for s in schedules}
    env = api_env(stack_run)
    audience = env["GOOGLE_ID_AUDIENCE"]
    assert audience.startswith(f"https://{prefix}-api-") and audience.endswith(".run.app")
    for schedule in schedules:
        job = jobs[f"{prefix}-{schedule['name']}"]
        assert job.inputs["schedule"] == schedule["cron"]
        assert job.inputs["timeZone"] == schedule["timeZone"]
        target = job.inputs["httpTarget"]
        assert target["uri"] == f"{audience}/v1/tasks/{schedule['task']}"
        assert target["httpMethod"] == "POST"
        assert json.loads(base64.b64decode(target["body"])) == {
            **({"latency_seconds": 1.0, "url": None} if schedule["task"] == "external_call" else {}),
            **schedule["payload"],
        }
        # Audience = the API's URL, the same value the API checks (GOOGLE_ID_AUDIENCE).
        assert target["oidcToken"]["audience"] == audience
        # The job's own account, and the API accepts exactly that caller.
        caller = target["oidcToken"]["serviceAccountEmail"]
        assert caller == f"{prefix}-scheduler@{config['gcp:project']}.iam.gserviceaccount.com"
        assert env["SCHEDULER_CALLERS"].split(",") == [caller]
        retry = job.inputs["retryConfig"]
        scheduler = json.loads(config["cloudrun-celery:scheduler"])
        assert retry["retryCount"] == scheduler["retryCount"]
        assert retry["maxRetryDuration"] == f"{scheduler['maxRetryDurationSeconds']}s"
        assert job.inputs["attemptDeadline"] == f"{scheduler['attemptDeadlineSeconds']}s"
    assert env["IDEMPOTENCY_WINDOW_SECONDS"] == "86400"


def test_private_api_grants_the_scheduler_invoker_on_the_api_only() -> None:
    run = run_program_full("dev", {"api": {**config_value("api"), "public": False}})
    (grant,) = run.of_type(RUN_INVOKER)
    assert grant.inputs["role"] == "roles/run.invoker"
    assert grant.inputs["member"] == (
        "serviceAccount:celery-dev-scheduler@my-gcp-project-dev.iam.gserviceaccount.com"
    )
    # Resource-level: on the API service, not on a worker, Flower or the project.
    assert grant.inputs["name"] == "celery-dev-api"
    assert grant.parent_type == "cloudrun-celery:infra:ScheduledTasks"
    assert not [r for r in run.resources if r.type_.startswith("gcp:projects/iam")]


def test_no_schedules_means_no_scheduler_resources_and_no_id_token_callers() -> None:
    run = run_program_full("dev", {"schedules": [], "flower": None})
    assert run.of_type(JOB) == []
    assert "celery-dev-scheduler" not in {a.inputs["accountId"] for a in run.of_type(ACCOUNT)}
    assert "SCHEDULER_CALLERS" not in api_env(run)
    assert not any(s.name == "cloudscheduler" for s in run.of_type("gcp:projects/service:Service"))


def test_extra_callers_join_the_allow_list() -> None:
    extra = "ci-runner@other-project.iam.gserviceaccount.com"
    run = run_program_full("dev", {"scheduler": {**config_value("scheduler"), "callers": [extra]}})
    assert api_env(run)["SCHEDULER_CALLERS"].split(",") == [
        "celery-dev-scheduler@my-gcp-project-dev.iam.gserviceaccount.com",
        extra,
    ]


def _worker_env(service: MockedResource) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in service.inputs["template"]["containers"][0]["envs"]}


def test_flower_is_iam_only_with_its_own_account_and_events_only_on_watched_groups(dev: ProgramRun) -> None:
    flower = dev.named(RUN_SERVICE, "flower")
    assert flower.inputs["template"]["serviceAccount"].startswith("celery-dev-flower@")
    assert flower.inputs["invokerIamDisabled"] is False
    # No allUsers (or any) invoker on Flower: only principals granted run.invoker reach it.
    assert all(g.inputs["name"] != "celery-dev-flower" for g in dev.of_type(RUN_INVOKER))
    envs = _worker_env(flower)
    # GOOGLE_CLOUD_PROJECT: the shared env names the project for log traces (docs/runtime-contract.md).
    assert set(envs) == {
        "LOG_LEVEL", "REDIS_CA_FILE", "RESULT_TTL_SECONDS", "TASK_TIME_LIMIT_SECONDS", "REDIS_URL", "GOOGLE_CLOUD_PROJECT"
    }
    assert flower.inputs["template"]["containers"][0]["resources"]["cpuIdle"] is False
    watched = set(config_value("flower")["watchGroups"])
    for group in config_value("workers"):
        service = dev.named(RUN_SERVICE, f"worker-{group['name']}")
        events = _worker_env(service).get("WORKER_EVENTS")
        assert events == ("true" if group["name"] in watched else None), group["name"]


def test_flower_disabled_declares_nothing_and_no_worker_sends_events(prod: ProgramRun) -> None:
    assert not any(s.name == "flower" for s in prod.of_type(RUN_SERVICE))
    assert not any(a.name == "flower" for a in prod.of_type(ACCOUNT))
    assert prod.exports["flower_url"] is None
    for service in prod.resources:
        if service.type_ in (RUN_SERVICE, "gcp:cloudrunv2/workerPool:WorkerPool"):
            assert "WORKER_EVENTS" not in _worker_env(service)
