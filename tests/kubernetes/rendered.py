"""The API and worker Deployments as the program renders them, with concrete values for a local run."""

from __future__ import annotations

import sys
from typing import Any

from tests.infra.harness import PROGRAM_DIR


def program_modules() -> Any:
    """The program's manifest modules, imported from infra/ as the language host would."""
    if str(PROGRAM_DIR) not in sys.path:
        sys.path.insert(0, str(PROGRAM_DIR))
    import runtime_contract
    from kubernetes import manifests, workloads
    from settings.rollout import ApiRolloutSettings
    from settings.services import ApiSettings, ContainerSize
    from settings.workers import WorkerGroupSettings

    return runtime_contract, manifests, workloads, ContainerSize, WorkerGroupSettings, ApiSettings, ApiRolloutSettings


def render(images: dict[str, str], grace_seconds: int, time_limit: int, prefix: str) -> dict[str, Any]:
    """{"api": Deployment, "worker": Deployment, "secret_keys": {key: env var or file}}."""
    runtime_contract, manifests, workloads, size, group_settings, api_settings, rollout = program_modules()
    ref = runtime_contract.SecretRef
    shared = runtime_contract.shared_environment(
        redis_url=ref("redis-url", "latest"),
        redis_ca=None,
        plain={"LOG_LEVEL": "INFO", "TASK_TIME_LIMIT_SECONDS": str(time_limit), "RESULT_TTL_SECONDS": "3600"},
    )
    group = group_settings(
        name="default", queues=("high", "default", "low"), kind="service", size=size("1", "1Gi"),
        min_instances=1, max_instances=1, concurrency=2, processes=1, pool="threads",
        request_concurrency=10, request_timeout_seconds=30,
    )
    api = api_settings(
        public=False, size=size("1", "1Gi"), min_instances=1, max_instances=1, concurrency=10,
        timeout_seconds=30, rollout=rollout(serving_revision=None, candidate_tag="candidate"),
        idempotency_window_seconds=3600,
    )
    envs = {
        "api": runtime_contract.api_environment(
            shared, api_keys=ref("api-keys", "latest"), api=api, app_secrets={},
        ),
        "worker": runtime_contract.worker_environment(shared, group=group, app_secrets={}),
    }
    out: dict[str, Any] = {}
    for name, env in envs.items():
        secret_env, files, _ = workloads.secret_keys(env)
        is_api = name == "api"
        workload = manifests.Workload(
            name=f"{prefix}-{name}", role=name if is_api else "worker", image=images[name],
            service_account=name, google_account="unused@example.iam.gserviceaccount.com",
            replicas=1, cpu="1", memory="1Gi", env=dict(env.plain), secret_env=secret_env, secret_files=files,
            liveness_path="/healthz", readiness_path="/readyz" if is_api else "/healthz",
            grace_period_seconds=10 if is_api else grace_seconds,
        )
        out[name] = manifests.deployment(workload, "celery")
    return out
