"""Rule 5: deletion protection in production stacks."""

from __future__ import annotations

import pytest

from task_contract.deployment import is_prod_stack

from policy.cloudrun_celery_policy.policies import (
    deletion_protection_policy,
    prod_deletion_protection,
)
from policy.cloudrun_celery_policy.resources import (
    REDIS_INSTANCE,
    SECRET,
    SERVICE,
    WORKER_POOL,
)
from tests.policy.support import (
    redis_instance,
    secret,
    validate_resource,
    worker_pool,
    worker_service,
)

PROD = deletion_protection_policy(stack=lambda: "prod")
DEV = deletion_protection_policy(stack=lambda: "dev")


def test_protected_prod_resources_pass() -> None:
    assert (
        validate_resource(PROD, REDIS_INSTANCE, redis_instance(), name="broker") == []
    )
    assert validate_resource(PROD, SERVICE, worker_service(), name="worker") == []
    assert (
        validate_resource(
            PROD, WORKER_POOL, worker_pool(deletionProtection=True), name="pool"
        )
        == []
    )
    assert (
        validate_resource(PROD, SECRET, secret(), name="redis-url", protect=True) == []
    )
    assert (
        validate_resource(
            PROD, SECRET, secret(deletionProtection=True), name="redis-url"
        )
        == []
    )


@pytest.mark.parametrize(
    ("resource_type", "props", "kind"),
    [
        (
            REDIS_INSTANCE,
            redis_instance(deletionProtection=False),
            "Redis instance 'r' (name 'broker')",
        ),
        (
            SERVICE,
            worker_service(deletionProtection=False),
            "Cloud Run service 'r' (name 'worker-default')",
        ),
        (
            WORKER_POOL,
            worker_pool(deletionProtection=False),
            "Cloud Run worker pool 'r' (name 'worker-pool-default')",
        ),
    ],
)
def test_unprotected_prod_resource_is_caught(
    resource_type: str, props: dict[str, object], kind: str
) -> None:
    assert validate_resource(PROD, resource_type, props, name="r") == [
        f"{kind} in prod stack 'prod' has deletionProtection=False; set deletion_protection=True."
    ]


def test_unset_protection_follows_the_provider_default() -> None:
    service, pool, redis = worker_service(), worker_pool(), redis_instance()
    del service["deletionProtection"], redis["deletionProtection"]
    # cloudrunv2 defaults deletion_protection to true; Redis states no default, so it must say so.
    assert validate_resource(PROD, SERVICE, service, name="worker") == []
    assert validate_resource(PROD, WORKER_POOL, pool, name="pool") == []
    assert validate_resource(PROD, REDIS_INSTANCE, redis, name="broker") == [
        "Redis instance 'broker' in prod stack 'prod' has deletionProtection=unset; set deletion_protection=True."
    ]


def test_unprotected_prod_secret_is_caught() -> None:
    assert validate_resource(PROD, SECRET, secret(), name="redis-url") == [
        (
            "Secret 'redis-url' in prod stack 'prod' is neither protected nor deletion-protected; "
            "pass opts=ResourceOptions(protect=True) or set deletion_protection=True."
        )
    ]


def test_dev_stack_is_not_held_to_it() -> None:
    assert (
        validate_resource(
            DEV, REDIS_INSTANCE, redis_instance(deletionProtection=False), name="broker"
        )
        == []
    )
    assert validate_resource(DEV, SECRET, secret(), name="redis-url") == []


@pytest.mark.parametrize(
    ("stack", "prod"),
    [
        ("prod", True),
        ("prod-eu", True),
        ("acme/cloudrun-celery/prod-eu", True),
        ("staging", False),
        ("production", False),
        ("dev-prod", False),
    ],
)
def test_prod_is_what_the_program_calls_prod(stack: str, prod: bool) -> None:
    # One definition (task_contract.deployment.is_prod_stack): the program refuses BASIC Redis
    # and unprotected resources on exactly the stacks this rule holds to deletion protection.
    policy = deletion_protection_policy(stack=lambda: stack)
    unprotected = redis_instance(deletionProtection=False)
    violations = validate_resource(policy, REDIS_INSTANCE, unprotected, name="broker")
    assert len(violations) == (1 if prod else 0)
    assert is_prod_stack(stack) is prod


def test_stack_name_is_read_from_the_cli_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unprotected = redis_instance(deletionProtection=False)
    monkeypatch.setenv("PULUMI_STACK", "acme/cloudrun-celery/prod")
    assert (
        len(
            validate_resource(
                prod_deletion_protection, REDIS_INSTANCE, unprotected, name="broker"
            )
        )
        == 1
    )
    monkeypatch.setenv("PULUMI_STACK", "dev")
    assert (
        validate_resource(
            prod_deletion_protection, REDIS_INSTANCE, unprotected, name="broker"
        )
        == []
    )
    # Without a stack name the policy fails closed and treats the stack as production.
    monkeypatch.delenv("PULUMI_STACK")
    [violation] = validate_resource(
        prod_deletion_protection, REDIS_INSTANCE, unprotected, name="broker"
    )
    assert "in prod stack '<unknown>'" in violation
