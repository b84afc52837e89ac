"""What every component does: wait for the API it uses, protection per stack, parenting; the exports."""

from __future__ import annotations

from tests.infra.harness import ProgramRun
from tests.infra.stack_resources import (
    ACCOUNT,
    REDIS,
    RUN_SERVICE,
    SECRET,
    SECRET_VERSION,
    WORKER_POOL,
    stack_file,
)


# --- project APIs -------------------------------------------------------------------------


def test_required_apis_are_enabled_and_left_on_at_destroy(
    stack_run: ProgramRun,
) -> None:
    apis = {
        r.inputs["service"]: r
        for r in stack_run.of_type("gcp:projects/service:Service")
    }
    for api in (
        "run",
        "redis",
        "vpcaccess",
        "secretmanager",
        "artifactregistry",
        "compute",
        "iam",
    ):
        assert f"{api}.googleapis.com" in apis
    assert all(r.inputs["disableOnDestroy"] is False for r in apis.values())


def test_resources_wait_for_the_api_they_use(stack_run: ProgramRun) -> None:
    api_urns = {
        r.inputs["service"].split(".")[0]: r.urn
        for r in stack_run.of_type("gcp:projects/service:Service")
    }
    expected = {
        REDIS: "redis",
        "gcp:artifactregistry/repository:Repository": "artifactregistry",
        "gcp:compute/network:Network": "compute",
        SECRET: "secretmanager",
        ACCOUNT: "iam",
        RUN_SERVICE: "run",
        WORKER_POOL: "run",
    }
    for resource in stack_run.resources:
        if resource.type_ in expected:
            assert api_urns[expected[resource.type_]] in resource.depends_on, (
                resource.urn
            )


# --- protection and exports ---------------------------------------------------------------


def test_prod_protects_redis_services_and_secrets(prod: ProgramRun) -> None:
    protected_types = (REDIS, RUN_SERVICE, WORKER_POOL, SECRET)
    for resource in prod.resources:
        if resource.type_ in protected_types:
            assert resource.protect, resource.urn
            assert resource.inputs["deletionProtection"] is True, resource.urn
    # Versions and grants stay unprotected so secrets can rotate.
    assert not any(r.protect for r in prod.of_type(SECRET_VERSION))


def test_dev_destroys_cleanly(dev: ProgramRun) -> None:
    assert [r.urn for r in dev.resources if r.protect or r.retain_on_delete] == []
    with_flag = [r for r in dev.resources if "deletionProtection" in r.inputs]
    assert with_flag, "expected Cloud Run, Redis and secrets to set deletionProtection"
    assert all(r.inputs["deletionProtection"] is False for r in with_flag)


def test_exports(stack_run: ProgramRun) -> None:
    exports = stack_run.exports
    assert set(exports) == {
        "api_url",
        "dashboard",
        "api_candidate_url",
        "api_latest_revision",
        "api_serving_revision",
        "worker_services",
        "registry_url",
        "redis_host",
        "secret_names",
        *(["autoscaler_service"] if "autoscaler_service" in exports else []),
        "scheduler_jobs",
        "flower_url",
        "beat_pool",
    }
    assert exports["api_url"].startswith("https://")
    assert set(exports["worker_services"]) == {
        w["name"] for w in stack_file(stack_run.stack)["workers"]
    }
    assert exports["secret_names"]["redis-url"].endswith("-redis-url")


def test_components_parent_their_resources(stack_run: ProgramRun) -> None:
    for resource in stack_run.resources:
        if resource.custom:
            assert resource.parent_type and resource.parent_type.startswith(
                "cloudrun-celery:infra:"
            ), resource.urn
