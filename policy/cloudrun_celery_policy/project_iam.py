"""Rule 7: no project-level IAM, except the autoscaler's conditioned view of its own config parameter.

Every grant the stack makes is on a resource (a secret, a worker pool, a service account). The
one exception is Parameter Manager, which has no per-parameter IAM in the provider: the
autoscaler (CREMA) gets ``roles/parametermanager.parameterViewer`` on the project, with an IAM
condition that names one parameter and its versions (docs/scaling.md). This rule allows exactly
that shape and nothing wider: another role, no condition, or a condition that does not pin one
parameter id is a violation. ``roles/monitoring.metricWriter`` as a project IAMMember is left to rule 6
(``project-iam-metric-writer-only``), which in turn leaves the parameter viewer to this rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .resources import get_mapping, get_optional

PROJECT_IAM_MEMBER = "gcp:projects/iAMMember:IAMMember"
PROJECT_IAM_BINDING = "gcp:projects/iAMBinding:IAMBinding"
PROJECT_IAM_POLICY = "gcp:projects/iAMPolicy:IAMPolicy"
PROJECT_IAM_RESOURCES = (PROJECT_IAM_MEMBER, PROJECT_IAM_BINDING, PROJECT_IAM_POLICY)
PARAMETER_VIEWER_ROLE = "roles/parametermanager.parameterViewer"
METRIC_WRITER_ROLE = "roles/monitoring.metricWriter"
# The condition infra/autoscaling/autoscaler.py writes: one parameter id, and its versions.
PARAMETER_CONDITION = re.compile(
    r'resource\.name\.endsWith\("/locations/global/parameters/(?P<id>[a-z0-9][a-z0-9_-]*)"\) \|\| '
    r'resource\.name\.extract\("/locations/global/parameters/\{name\}/versions/"\) == "(?P=id)"'
)
FIX = (
    "grant on the resource instead (SecretIamMember, WorkerPoolIamMember, ...); only "
    f"{PARAMETER_VIEWER_ROLE} conditioned on one parameter is allowed on the project"
)


def check_project_iam(name: str, resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Violations of a project-level IAM resource."""
    if resource_type == PROJECT_IAM_POLICY:
        return [f"Project IAM policy '{name}' replaces the project's whole policy; {FIX}."]
    role = get_optional(props, "role")
    if role == METRIC_WRITER_ROLE and resource_type == PROJECT_IAM_MEMBER:
        # Cloud Monitoring has no resource-level grant; rule 6 (project-iam-metric-writer-only) owns it.
        return []
    if role != PARAMETER_VIEWER_ROLE:
        return [f"Project IAM grant '{name}' gives {role!r} on the whole project; {FIX}."]
    if resource_type == PROJECT_IAM_BINDING:
        return [f"Project IAM binding '{name}' is authoritative for {role} on the project; use an IAMMember. {FIX}."]
    expression = get_optional(get_mapping(props, "condition"), "expression")
    if not isinstance(expression, str) or not PARAMETER_CONDITION.fullmatch(expression):
        return [
            f"Project IAM grant '{name}' gives {role} with condition {expression!r}, which does not "
            "pin one parameter; condition it as infra/autoscaling/autoscaler.py parameter_condition() does."
        ]
    return []


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type in PROJECT_IAM_RESOURCES:
        for problem in check_project_iam(args.name, args.resource_type, args.props):
            report_violation(problem, None)


no_project_wide_iam = ResourceValidationPolicy(
    name="no-project-wide-iam",
    description=(
        "No project-level IAM grants, except parameterViewer conditioned on one Parameter Manager "
        "parameter (the autoscaler's config)."
    ),
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
)
