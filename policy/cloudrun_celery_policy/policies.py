"""The CrossGuard policies: the rules in ``rules.py`` bound to resource types and the engine.

Building a ``PolicyPack`` starts a gRPC server and blocks, so this module only defines the
policies; ``policy/__main__.py`` builds the pack. Tests call ``policy.validate(args, report)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import env_secrets, rules
from .project_iam import no_project_wide_iam
from .kubernetes_rules import KUBERNETES_POLICIES
from .resources import (
    CONTAINER_RESOURCES,
    PROJECT_IAM_RESOURCES,
    REDIS_INSTANCE,
    SERVICE,
    SERVICE_IAM_RESOURCES,
    get_optional,
    is_worker,
)

StackName = Callable[[], "str | None"]


def current_stack() -> str | None:
    """The stack being previewed or updated.

    The CLI starts a Python policy pack with PULUMI_STACK (and PULUMI_PROJECT) in its
    environment (pulumi ``constructEnv`` for policy analyzers); pulumi_policy itself reads the
    same variable to configure ``pulumi.get_stack()``.
    """
    return os.environ.get("PULUMI_STACK") or None


def _report_all(
    report_violation: ReportViolation, problems: Sequence[str], urn: str | None = None
) -> None:
    for problem in problems:
        report_violation(problem, urn)


def _validate_worker_ingress(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type == SERVICE:
        _report_all(
            report_violation,
            rules.check_worker_ingress(args.name, args.props, args.urn),
        )


def _validate_env_secrets(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type in CONTAINER_RESOURCES:
        _report_all(
            report_violation,
            env_secrets.check_env_secrets(args.name, args.resource_type, args.props),
        )


def _validate_redis(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type == REDIS_INSTANCE:
        _report_all(report_violation, rules.check_redis_tls_auth(args.name, args.props))


def _validate_images(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type in CONTAINER_RESOURCES:
        _report_all(
            report_violation,
            rules.check_images(args.name, args.resource_type, args.props),
        )


def _validate_project_iam(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type in PROJECT_IAM_RESOURCES:
        _report_all(
            report_violation,
            rules.check_project_iam(args.name, args.resource_type, args.props),
        )


def _worker_service_names(resources: Sequence[PolicyResource]) -> set[str]:
    names: set[str] = set()
    for resource in resources:
        if resource.resource_type == SERVICE and is_worker(
            resource.props, resource.urn
        ):
            cloud_name = get_optional(resource.props, "name")
            names.add(
                cloud_name
                if isinstance(cloud_name, str) and cloud_name
                else resource.name
            )
    return names


def _validate_no_public_worker_invoker(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    workers = _worker_service_names(args.resources)
    for resource in args.resources:
        if resource.resource_type not in SERVICE_IAM_RESOURCES:
            continue
        # The engine records which resources fed the IAM resource's `name`; a worker there
        # identifies the target even if the names differ (e.g. a fully qualified id).
        name_sources = resource.property_dependencies.get("name", [])
        depends_on_worker = any(
            dep.resource_type == SERVICE and is_worker(dep.props, dep.urn)
            for dep in name_sources
        )
        problems = rules.check_public_worker_invokers(
            resource.name,
            resource.resource_type,
            resource.props,
            workers,
            depends_on_worker,
        )
        _report_all(report_violation, problems, resource.urn)


def deletion_protection_policy(
    stack: StackName = current_stack,
) -> ResourceValidationPolicy:
    """The prod-only deletion protection policy; ``stack`` says which stack is being deployed."""

    def validate(
        args: ResourceValidationArgs, report_violation: ReportViolation
    ) -> None:
        if args.resource_type not in rules.DELETION_PROTECTION_DEFAULTS:
            return
        stack_name = stack()
        if not rules.is_prod(stack_name):
            return
        problems = rules.check_deletion_protection(
            args.name,
            args.resource_type,
            args.props,
            bool(args.opts.protect),
            stack_name or "<unknown>",
        )
        _report_all(report_violation, problems)

    return ResourceValidationPolicy(
        name="prod-deletion-protection",
        description=(
            "In production stacks, Redis instances, Cloud Run services and worker pools have "
            "deletion protection on, and Secret Manager secrets are protected."
        ),
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


worker_not_public = ResourceValidationPolicy(
    name="worker-not-public",
    description=(
        "Cloud Run worker services (label role=worker) accept internal traffic only and keep IAM invoker checks on."
    ),
    validate=_validate_worker_ingress,
    enforcement_level=EnforcementLevel.MANDATORY,
)

worker_no_public_invoker = StackValidationPolicy(
    name="worker-no-public-invoker",
    description="No IAM resource grants roles/run.invoker to allUsers or allAuthenticatedUsers on a worker service.",
    validate=_validate_no_public_worker_invoker,
    enforcement_level=EnforcementLevel.MANDATORY,
)

secrets_from_secret_manager = ResourceValidationPolicy(
    name="secrets-from-secret-manager",
    description=(
        "Container env vars that hold credentials come from Secret Manager (value_source.secret_key_ref), "
        "never a plain value."
    ),
    validate=_validate_env_secrets,
    enforcement_level=EnforcementLevel.MANDATORY,
)

redis_tls_and_auth = ResourceValidationPolicy(
    name="redis-tls-and-auth",
    description="Memorystore Redis has AUTH on and in-transit encryption SERVER_AUTHENTICATION.",
    validate=_validate_redis,
    enforcement_level=EnforcementLevel.MANDATORY,
)

images_pinned_by_digest = ResourceValidationPolicy(
    name="images-pinned-by-digest",
    description="Cloud Run container images are referenced by @sha256 digest, not :latest or a tag alone.",
    validate=_validate_images,
    enforcement_level=EnforcementLevel.MANDATORY,
)

project_iam_metric_writer_only = ResourceValidationPolicy(
    name="project-iam-metric-writer-only",
    description=(
        "Project-level IAM grants only roles/monitoring.metricWriter (it has no resource-level grant); "
        "every other role is granted on its resource."
    ),
    validate=_validate_project_iam,
    enforcement_level=EnforcementLevel.MANDATORY,
)

prod_deletion_protection = deletion_protection_policy()

POLICIES: list[Policy] = [
    worker_not_public,
    worker_no_public_invoker,
    secrets_from_secret_manager,
    redis_tls_and_auth,
    images_pinned_by_digest,
    project_iam_metric_writer_only,
    prod_deletion_protection,
    no_project_wide_iam,
    *KUBERNETES_POLICIES,
]

__all__ = [
    "POLICIES",
    "current_stack",
    "deletion_protection_policy",
    "images_pinned_by_digest",
    "no_project_wide_iam",
    "prod_deletion_protection",
    "project_iam_metric_writer_only",
    "redis_tls_and_auth",
    "secrets_from_secret_manager",
    "worker_no_public_invoker",
    "worker_not_public",
]
