"""The pack against the real program: dev and prod pass every rule, and a broken copy is caught."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from policy.cloudrun_celery_policy.resources import (
    CONTAINER_RESOURCES,
    REDIS_INSTANCE,
    SECRET,
    SERVICE,
    SERVICE_IAM_MEMBER,
    WORKER_POOL,
    is_worker,
)
from tests.infra.harness import PROGRAM_DIR, MockedResource, run_program
from tests.policy.program import Violation, mutated, run_pack

pytestmark = pytest.mark.skipif(
    not (PROGRAM_DIR / "__main__.py").exists(),
    reason="infra/__main__.py is not written yet",
)

STACKS = ("dev", "prod")


@pytest.fixture(scope="module")
def programs() -> dict[str, list[MockedResource]]:
    return {stack: run_program(stack) for stack in STACKS}


def _is_worker_service(resource: MockedResource) -> bool:
    return resource.type_ == SERVICE and is_worker(resource.inputs, resource.urn)


def _is_workload(resource: MockedResource) -> bool:
    return resource.type_ in CONTAINER_RESOURCES


def _first_container(inputs: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = inputs["template"]["containers"][0]
    return container


@pytest.mark.parametrize("stack", STACKS)
def test_program_declares_what_the_rules_guard(
    stack: str, programs: dict[str, list[MockedResource]]
) -> None:
    # Without these the "passes every rule" test below would pass vacuously.
    resources = programs[stack]
    types = {r.type_ for r in resources}
    assert REDIS_INSTANCE in types
    assert SECRET in types
    assert any(_is_workload(r) for r in resources)
    workers = [r for r in resources if _is_worker_service(r) or r.type_ == WORKER_POOL]
    assert workers, (
        "no Cloud Run service labelled role=worker and no worker pool: the worker rules see nothing"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_program_passes_every_rule(
    stack: str, programs: dict[str, list[MockedResource]]
) -> None:
    assert run_pack(stack, programs[stack]) == []


def _broken_worker_ingress(inputs: dict[str, Any]) -> None:
    inputs["ingress"] = "INGRESS_TRAFFIC_ALL"


def _latest_image(inputs: dict[str, Any]) -> None:
    image: str = _first_container(inputs)["image"]
    _first_container(inputs)["image"] = (
        image.split("@", 1)[0].rsplit(":", 1)[0] + ":latest"
    )


def _plain_redis_url(inputs: dict[str, Any]) -> None:
    envs = _first_container(inputs).setdefault("envs", [])
    envs[:] = [env for env in envs if env.get("name") != "REDIS_URL"]
    envs.append(
        {
            "name": "REDIS_URL",
            "value": "rediss://:mock-redis-auth-string@10.20.0.3:6378/0",
        }
    )


def _redis_auth_off(inputs: dict[str, Any]) -> None:
    inputs["authEnabled"] = False


def _redis_tls_off(inputs: dict[str, Any]) -> None:
    inputs["transitEncryptionMode"] = "DISABLED"


def _deletion_protection_off(inputs: dict[str, Any]) -> None:
    inputs["deletionProtection"] = False


Pick = Callable[[MockedResource], bool]
Change = Callable[[dict[str, Any]], None]

MUTATIONS: list[tuple[str, str, Pick, Change, str]] = [
    (
        "dev",
        "worker-not-public",
        _is_worker_service,
        _broken_worker_ingress,
        "but its ingress is INGRESS_TRAFFIC_ALL",
    ),
    (
        "prod",
        "images-pinned-by-digest",
        _is_workload,
        _latest_image,
        "uses the mutable :latest tag",
    ),
    (
        "dev",
        "secrets-from-secret-manager",
        _is_workload,
        _plain_redis_url,
        "sets REDIS_URL as a plain value",
    ),
    (
        "prod",
        "redis-tls-and-auth",
        lambda r: r.type_ == REDIS_INSTANCE,
        _redis_auth_off,
        "has AUTH disabled",
    ),
    (
        "dev",
        "redis-tls-and-auth",
        lambda r: r.type_ == REDIS_INSTANCE,
        _redis_tls_off,
        "transitEncryptionMode=DISABLED",
    ),
    (
        "prod",
        "prod-deletion-protection",
        lambda r: r.type_ == REDIS_INSTANCE,
        _deletion_protection_off,
        "has deletionProtection=False",
    ),
    (
        "prod",
        "prod-deletion-protection",
        _is_workload,
        _deletion_protection_off,
        "has deletionProtection=False",
    ),
]


@pytest.mark.parametrize(
    ("stack", "policy", "pick", "change", "expected"),
    MUTATIONS,
    ids=[
        f"{stack}-{change.__name__.strip('_')}" for stack, _, _, change, _ in MUTATIONS
    ],
)
def test_breaking_one_real_resource_is_caught(
    stack: str,
    policy: str,
    pick: Pick,
    change: Change,
    expected: str,
    programs: dict[str, list[MockedResource]],
) -> None:
    resources, changed = mutated(programs[stack], pick, change)
    violations = run_pack(stack, resources)
    assert len(violations) == 1, violations
    [violation] = violations
    assert (violation.policy, violation.resource) == (policy, changed.urn)
    assert expected in violation.message


def test_unprotected_prod_secret_is_caught(
    programs: dict[str, list[MockedResource]],
) -> None:
    def unprotect(inputs: dict[str, Any]) -> None:
        inputs.pop("deletionProtection", None)

    resources, changed = mutated(
        programs["prod"], lambda r: r.type_ == SECRET, unprotect, protect=False
    )
    assert run_pack("prod", resources) == [
        Violation(
            "prod-deletion-protection",
            changed.urn,
            f"Secret '{changed.name}' in prod stack 'prod' is neither "
            "protected nor deletion-protected; pass opts=ResourceOptions(protect=True) or set "
            "deletion_protection=True.",
        )
    ]


def test_public_invoker_on_real_worker_is_caught(
    programs: dict[str, list[MockedResource]],
) -> None:
    resources = programs["dev"]
    worker = next(r for r in resources if _is_worker_service(r))
    worker_name = worker.inputs.get("name") or worker.name
    grant = MockedResource(
        type_=SERVICE_IAM_MEMBER,
        name="worker-public-invoker",
        urn=f"urn:pulumi:dev::cloudrun-celery::{SERVICE_IAM_MEMBER}::worker-public-invoker",
        inputs={
            "name": worker_name,
            "location": worker.inputs.get("location"),
            "role": "roles/run.invoker",
            "member": "allUsers",
        },
        custom=True,
        protect=False,
        retain_on_delete=False,
        parent="",
        provider="",
        depends_on=(worker.urn,),
        ignore_changes=(),
        delete_before_replace=False,
    )
    violations = run_pack("dev", [*resources, grant])
    assert [(v.policy, v.resource) for v in violations] == [
        ("worker-no-public-invoker", grant.urn)
    ]
