"""Resource types and lookups shared by the tests of the program's components."""

from __future__ import annotations

from typing import Any

import yaml

from tests.infra.harness import PROJECT_ROOT, MockedResource, ProgramRun

RUN_SERVICE = "gcp:cloudrunv2/service:Service"
WORKER_POOL = "gcp:cloudrunv2/workerPool:WorkerPool"
SECRET = "gcp:secretmanager/secret:Secret"
SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion"
SCHEDULER_JOB = "gcp:cloudscheduler/job:Job"
SECRET_IAM = "gcp:secretmanager/secretIamMember:SecretIamMember"
REDIS = "gcp:redis/instance:Instance"
ACCOUNT = "gcp:serviceaccount/account:Account"
MOCK_AUTH = "mock-redis-auth-string"


def stack_file(stack: str) -> dict[str, Any]:
    document = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())
    return {
        k.split(":", 1)[1]: v
        for k, v in document["config"].items()
        if k.startswith("cloudrun-celery:")
    }


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {
        e["name"]: e.get("value", e.get("valueSource"))
        for e in container.get("envs", [])
    }


def worker_workloads(run: ProgramRun) -> dict[str, MockedResource]:
    return {
        r.name.removeprefix("worker-"): r
        for r in run.resources
        if r.type_ in (RUN_SERVICE, WORKER_POOL)
        and r.parent_type == "cloudrun-celery:infra:WorkerService"
    }
