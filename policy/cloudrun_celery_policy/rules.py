"""The security rules as pure functions: resource inputs in, violation messages out.

Each function returns one message per problem; an empty list means the resource complies.
Messages name the resource, the offending value and the fix, because the engine prints them
verbatim under the policy's description.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from task_contract.deployment import is_prod_stack

from .resources import (
    PROJECT_IAM_MEMBER,
    PROJECT_IAM_POLICY,
    REDIS_INSTANCE,
    SECRET,
    SERVICE,
    SERVICE_IAM_BINDING,
    SERVICE_IAM_MEMBER,
    SERVICE_IAM_POLICY,
    WORKER_POOL,
    containers,
    display_name,
    get_optional,
    get_sequence,
    is_worker,
    labels,
    worker_marker,
)

# --- 1. Workers are not public -------------------------------------------------------------

INTERNAL_ONLY = "INGRESS_TRAFFIC_INTERNAL_ONLY"
INVOKER_ROLE = "roles/run.invoker"
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})


def check_worker_ingress(
    name: str, props: Mapping[str, Any], urn: str = ""
) -> list[str]:
    """A worker service accepts only internal traffic and keeps IAM invoker checks on."""
    if not is_worker(props, urn):
        return []
    who = f"Cloud Run service {display_name(name, props)} is a worker ({worker_marker(props)})"
    problems: list[str] = []
    # Unset ingress means the API default, INGRESS_TRAFFIC_ALL.
    ingress = get_optional(props, "ingress") or "INGRESS_TRAFFIC_ALL (default)"
    if ingress != INTERNAL_ONLY:
        problems.append(
            f"{who} but its ingress is {ingress}; set ingress='{INTERNAL_ONLY}'."
        )
    if get_optional(props, "invokerIamDisabled") is True:
        problems.append(
            f"{who} but invokerIamDisabled=true lets anyone who can reach it invoke it; "
            "remove invoker_iam_disabled (or set it to false)."
        )
    return problems


def public_invoker_members(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """The public members (allUsers, allAuthenticatedUsers) an IAM resource grants run.invoker to."""
    if resource_type == SERVICE_IAM_MEMBER:
        granted = [(get_optional(props, "role"), get_optional(props, "member"))]
    elif resource_type == SERVICE_IAM_BINDING:
        role = get_optional(props, "role")
        granted = [(role, member) for member in get_sequence(props, "members")]
    elif resource_type == SERVICE_IAM_POLICY:
        granted = _policy_data_grants(get_optional(props, "policyData"))
    else:
        return []
    return sorted(
        {
            member
            for role, member in granted
            if role == INVOKER_ROLE and member in PUBLIC_MEMBERS
        }
    )


def _policy_data_grants(policy_data: Any) -> list[tuple[Any, Any]]:
    if not isinstance(policy_data, str) or not policy_data:
        return []
    try:
        document = json.loads(policy_data)
    except ValueError:
        return []
    bindings = document.get("bindings", []) if isinstance(document, dict) else []
    return [
        (binding.get("role"), member)
        for binding in bindings
        if isinstance(binding, dict)
        for member in binding.get("members", [])
    ]


def iam_target_service(props: Mapping[str, Any]) -> str | None:
    """The service an IAM resource points at: the last segment of its ``name`` input.

    pulumi-gcp accepts either the short name or ``projects/P/locations/L/services/NAME``.
    """
    target = get_optional(props, "name")
    if not isinstance(target, str) or not target:
        return None
    return target.rsplit("/", 1)[-1]


def check_public_worker_invokers(
    iam_name: str,
    iam_type: str,
    iam_props: Mapping[str, Any],
    worker_names: Iterable[str],
    depends_on_worker: bool = False,
) -> list[str]:
    """An IAM resource must not make a worker service invokable by the public.

    The target is a worker when the IAM resource's ``name`` is a worker service's name, or
    when ``depends_on_worker`` says that name was computed from a worker service resource.
    """
    public = public_invoker_members(iam_type, iam_props)
    target = iam_target_service(iam_props)
    targets_worker = depends_on_worker or (
        target is not None and target in set(worker_names)
    )
    if not public or not targets_worker:
        return []
    message = (
        f"IAM resource '{iam_name}' grants {INVOKER_ROLE} to {', '.join(public)} on worker service "
        f"'{target or '<computed>'}'; a worker takes its work from the queue, never from outside callers: "
        "remove this grant."
    )
    return [message]


# --- 3. Redis TLS and AUTH -----------------------------------------------------------------

SERVER_AUTHENTICATION = "SERVER_AUTHENTICATION"


def check_redis_tls_auth(name: str, props: Mapping[str, Any]) -> list[str]:
    """Memorystore requires AUTH and in-transit encryption (both off by default)."""
    who = f"Redis instance {display_name(name, props)}"
    problems: list[str] = []
    auth = get_optional(props, "authEnabled")
    if auth is not True:
        shown = "unset, default false" if auth is None else auth
        problems.append(
            f"{who} has AUTH disabled (authEnabled={shown}); set auth_enabled=True."
        )
    mode = get_optional(props, "transitEncryptionMode")
    if mode != SERVER_AUTHENTICATION:
        problems.append(
            f"{who} has transitEncryptionMode={mode or 'DISABLED (default)'}; "
            f"set transit_encryption_mode='{SERVER_AUTHENTICATION}'."
        )
    return problems


# --- 4. Images pinned by digest ------------------------------------------------------------

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def image_problem(image: str) -> str | None:
    """Why an image reference is not pinned by digest, or None when it is."""
    if DIGEST.search(image):
        return None
    if "@" in image:
        return "has a malformed digest (expected @sha256: and 64 hex characters)"
    last_segment = image.rsplit("/", 1)[-1]
    if ":" not in last_segment:
        return "has neither tag nor digest, so it means :latest"
    tag = last_segment.split(":", 1)[1]
    if tag == "latest":
        return "uses the mutable :latest tag"
    return f"is pinned only by the tag :{tag}, which can be moved"


# CREMA's published image (label role=autoscaler) may be pinned by a version tag (its README's
# recommendation); :latest and untagged still fail. Our own images are always by digest.
AUTOSCALER_VERSION_TAG = re.compile(r":[0-9]+(\.[0-9]+)*$")


def _version_pinned_autoscaler(props: Mapping[str, Any], image: str) -> bool:
    return labels(props).get("role") == "autoscaler" and bool(
        AUTOSCALER_VERSION_TAG.search(image.rsplit("/", 1)[-1])
    )


def check_images(name: str, resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Every container image is referenced by digest, so a deploy runs exactly what was built."""
    kind = "worker pool" if resource_type == WORKER_POOL else "service"
    problems: list[str] = []
    for container in containers(f"Cloud Run {kind} {display_name(name, props)}", props):
        image = get_optional(container.props, "image")
        if not isinstance(image, str):
            problems.append(f"{container.label} has no image.")
            continue
        problem = image_problem(image)
        if problem and _version_pinned_autoscaler(props, image):
            problem = None
        if problem:
            problems.append(
                f"{container.label} image '{image}' {problem}; reference it as REPO@sha256:DIGEST "
                "(e.g. the built image's repo_digest)."
            )
    return problems


# --- 6. Project-level IAM: metric writing only -----------------------------------------------

# Cloud Monitoring grants time-series writes only on a project (or folder/organization), so each
# workload's identity needs this one role there. Every other grant is made on the resource.
PROJECT_ROLE_ALLOWED = "roles/monitoring.metricWriter"
PARAMETER_VIEWER_ROLE = "roles/parametermanager.parameterViewer"


def check_project_iam(name: str, resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Project-wide grants are limited to roles/monitoring.metricWriter; no authoritative policy."""
    if resource_type == PROJECT_IAM_POLICY:
        return [
            f"Project IAM policy '{name}' replaces the whole project's IAM policy; grant roles on the "
            "resources instead (and roles/monitoring.metricWriter with a projects.IAMMember)."
        ]
    role = get_optional(props, "role")
    if role == PARAMETER_VIEWER_ROLE and resource_type == PROJECT_IAM_MEMBER:
        # The autoscaler's conditioned view of its config; rule 7 (no-project-wide-iam) checks its condition.
        return []
    if role != PROJECT_ROLE_ALLOWED:
        return [
            f"Project IAM grant '{name}' gives {role!r} on the whole project; grant it on the resource "
            f"that needs it (only {PROJECT_ROLE_ALLOWED}, which has no resource-level grant, is allowed here)."
        ]
    return []


# --- 5. Deletion protection in prod ----------------------------------------------------------

def is_prod(stack: str | None) -> bool:
    """Whether ``stack`` (short or ``org/project/stack``) is a production stack.

    The definition is the Pulumi program's (``prod`` or ``prod-*``, task_contract.deployment),
    so the program's prod checks and this rule always agree on which stacks they cover.
    An unknown stack counts as production: failing closed costs a confusing message on a
    hand-run pack, failing open would let an unprotected prod resource through.
    """
    if not stack:
        return True
    return is_prod_stack(stack)


# Cloud Run v2 services and worker pools default deletion_protection to true in pulumi-gcp
# 10.x, so unset passes. Redis and Secret Manager document no such default: they must say so.
DELETION_PROTECTION_DEFAULTS = {
    SERVICE: True,
    WORKER_POOL: True,
    REDIS_INSTANCE: False,
    SECRET: False,
}


def check_deletion_protection(
    name: str, resource_type: str, props: Mapping[str, Any], protect: bool, stack: str
) -> list[str]:
    """In prod, stateful and serving resources cannot be deleted by a stray ``pulumi up``."""
    if resource_type not in DELETION_PROTECTION_DEFAULTS:
        return []
    default = DELETION_PROTECTION_DEFAULTS[resource_type]
    setting = get_optional(props, "deletionProtection")
    enabled = default if setting is None else setting is True
    if resource_type == SECRET:
        if enabled or protect:
            return []
        message = (
            f"Secret {display_name(name, props)} in prod stack '{stack}' is neither protected nor "
            "deletion-protected; pass opts=ResourceOptions(protect=True) or set deletion_protection=True."
        )
        return [message]
    if enabled:
        return []
    shown = "unset" if setting is None else setting
    kinds = {
        SERVICE: "Cloud Run service",
        WORKER_POOL: "Cloud Run worker pool",
        REDIS_INSTANCE: "Redis instance",
    }
    message = (
        f"{kinds[resource_type]} {display_name(name, props)} in prod stack '{stack}' has "
        f"deletionProtection={shown}; set deletion_protection=True."
    )
    return [message]


__all__ = [
    "check_deletion_protection",
    "check_images",
    "check_public_worker_invokers",
    "check_redis_tls_auth",
    "check_worker_ingress",
    "iam_target_service",
    "image_problem",
    "is_prod",
    "public_invoker_members",
]
