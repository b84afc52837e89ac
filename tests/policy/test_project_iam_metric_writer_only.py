"""Rule 6: the only project-level grant is roles/monitoring.metricWriter."""

from __future__ import annotations

import pytest

from policy.cloudrun_celery_policy.policies import project_iam_metric_writer_only
from policy.cloudrun_celery_policy.resources import (
    PROJECT_IAM_BINDING,
    PROJECT_IAM_MEMBER,
    PROJECT_IAM_POLICY,
)
from tests.infra.harness import run_program
from tests.policy.support import validate_resource

WRITER = {"project": "p", "role": "roles/monitoring.metricWriter", "member": "serviceAccount:a@p.iam.gserviceaccount.com"}


def test_metric_writer_on_the_project_passes() -> None:
    assert validate_resource(project_iam_metric_writer_only, PROJECT_IAM_MEMBER, WRITER, name="api-metric-writer") == []


@pytest.mark.parametrize("resource_type", [PROJECT_IAM_MEMBER, PROJECT_IAM_BINDING])
def test_any_other_project_role_is_caught(resource_type: str) -> None:
    props = {**WRITER, "role": "roles/secretmanager.secretAccessor"}
    (violation,) = validate_resource(project_iam_metric_writer_only, resource_type, props, name="too-wide")
    assert "'roles/secretmanager.secretAccessor' on the whole project" in violation
    assert "grant it on the resource" in violation


def test_an_authoritative_project_policy_is_caught() -> None:
    (violation,) = validate_resource(
        project_iam_metric_writer_only, PROJECT_IAM_POLICY, {"project": "p", "policyData": "{}"}, name="all"
    )
    assert "replaces the whole project's IAM policy" in violation


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_program_grants_metric_writer_once_per_workload_and_nothing_else(stack: str) -> None:
    resources = run_program(stack)
    # The autoscaler's conditioned parameterViewer grant is rule 7's (tests/policy/test_no_project_wide_iam.py).
    project_grants = [
        r
        for r in resources
        if r.type_.startswith("gcp:projects/iAM") and r.inputs["role"] != "roles/parametermanager.parameterViewer"
    ]
    workloads = {
        r.name for r in resources if r.type_ == "gcp:serviceaccount/account:Account" and r.name not in ("autoscaler", "scheduler")
    }
    assert {g.inputs["role"] for g in project_grants} == {"roles/monitoring.metricWriter"}
    assert len(project_grants) == len(workloads)
    for grant in project_grants:
        assert validate_resource(project_iam_metric_writer_only, grant.type_, grant.inputs, name=grant.name) == []
