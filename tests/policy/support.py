"""Feeding resources to the policies the way the engine does, and compliant resource shapes.

The engine gives a policy the resource's inputs as camelCase keys wrapped by
``unknown_checking_proxy``; ``validate_resource`` does the same, so a rule that reads props
the wrong way (``dict`` checks, ``in`` on an unknown value) fails here too.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

UNKNOWN = UNKNOWN_STRING_VALUE
DIGEST = "sha256:" + "ab" * 32
REPO = "europe-west1-docker.pkg.dev/demo-project/cloudrun-celery"


def urn(resource_type: str, name: str, stack: str = "dev") -> str:
    return f"urn:pulumi:{stack}::cloudrun-celery::{resource_type}::{name}"


def options(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=None,
    )


def validate_resource(
    policy: ResourceValidationPolicy,
    resource_type: str,
    props: Mapping[str, Any],
    name: str = "resource",
    protect: bool = False,
    config: Mapping[str, Any] | None = None,
    resource_urn: str | None = None,
) -> list[str]:
    """Run one resource policy on one resource; the violation messages it reported."""
    violations: list[str] = []
    args = ResourceValidationArgs(
        resource_type=resource_type,
        props=unknown_checking_proxy(copy.deepcopy(dict(props))),
        urn=resource_urn or urn(resource_type, name),
        name=name,
        opts=options(protect),
        provider=None,
        config=config,
    )

    def report(message: str, _urn: str | None = None) -> None:
        violations.append(message)

    result = policy.validate(args, report)
    assert result is None, "these policies are synchronous"
    return violations


@dataclass
class StackResource:
    resource_type: str
    name: str
    props: Mapping[str, Any]
    protect: bool = False
    # property name -> names of the resources it was computed from
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)


def validate_stack(
    policy: StackValidationPolicy, resources: Sequence[StackResource]
) -> list[tuple[str, str | None]]:
    """Run one stack policy on a stack; (message, urn) for each violation."""
    built = {
        r.name: PolicyResource(
            resource_type=r.resource_type,
            props=unknown_checking_proxy(copy.deepcopy(dict(r.props))),
            urn=urn(r.resource_type, r.name),
            name=r.name,
            opts=options(r.protect),
            provider=None,
            parent=None,
            dependencies=[],
            property_dependencies={},
        )
        for r in resources
    }
    for r in resources:
        built[r.name].property_dependencies = {
            prop: [built[dep] for dep in deps]
            for prop, deps in r.property_dependencies.items()
        }
    violations: list[tuple[str, str | None]] = []
    args = StackValidationArgs(resources=list(built.values()), config=None)

    def report(message: str, urn: str | None = None) -> None:
        violations.append((message, urn))

    result = policy.validate(args, report)
    assert result is None, "these policies are synchronous"
    return violations


# --- Compliant resources, shaped like pulumi-gcp 10.2.0 inputs (camelCase) -------------------


def secret_env(name: str, secret: str) -> dict[str, Any]:
    return {
        "name": name,
        "valueSource": {"secretKeyRef": {"secret": secret, "version": "latest"}},
    }


def container(
    image: str = f"{REPO}/worker@{DIGEST}", envs: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "image": image,
        "envs": envs
        if envs is not None
        else [
            secret_env("REDIS_URL", "redis-url"),
            {"name": "WORKER_QUEUES", "value": "high,default,low"},
            {"name": "REDIS_CA_FILE", "value": "/secrets/redis-ca/ca.pem"},
            {"name": "API_KEYS_FILE", "value": "/secrets/api-keys/keys"},
        ],
        "resources": {"cpuIdle": False, "limits": {"cpu": "1", "memory": "512Mi"}},
    }


def worker_service(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": "worker-default",
        "location": "europe-west1",
        "ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY",
        "labels": {"app": "cloudrun-celery", "role": "worker"},
        "deletionProtection": True,
        "template": {
            "scaling": {"minInstanceCount": 1, "maxInstanceCount": 3},
            "containers": [container()],
        },
    }
    props.update(overrides)
    return props


def api_service(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": "api",
        "location": "europe-west1",
        "ingress": "INGRESS_TRAFFIC_ALL",
        "labels": {"app": "cloudrun-celery", "role": "api"},
        "template": {"containers": [container(image=f"{REPO}/api@{DIGEST}")]},
    }
    props.update(overrides)
    return props


def worker_pool(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": "worker-pool-default",
        "location": "europe-west1",
        "labels": {"role": "worker"},
        "scaling": {"scalingMode": "MANUAL", "manualInstanceCount": 1},
        "template": {"containers": [container()]},
    }
    props.update(overrides)
    return props


def redis_instance(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": "broker",
        "tier": "STANDARD_HA",
        "memorySizeGb": 1,
        "authEnabled": True,
        "transitEncryptionMode": "SERVER_AUTHENTICATION",
        "deletionProtection": True,
        "redisConfigs": {"maxmemory-policy": "noeviction"},
    }
    props.update(overrides)
    return props


def secret(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"secretId": "redis-url", "replication": {"auto": {}}}
    props.update(overrides)
    return props
