"""Rule 7: no project-level IAM, except parameterViewer conditioned on one parameter."""

from __future__ import annotations

import pytest

from policy.cloudrun_celery_policy.policies import images_pinned_by_digest
from policy.cloudrun_celery_policy.project_iam import (
    PROJECT_IAM_BINDING,
    PROJECT_IAM_MEMBER,
    PROJECT_IAM_POLICY,
    no_project_wide_iam,
)
from policy.cloudrun_celery_policy.resources import SERVICE
from tests.policy.support import container, validate_resource

MEMBER = "serviceAccount:celery-prod-autoscaler@demo.iam.gserviceaccount.com"
CONDITION = (
    'resource.name.endsWith("/locations/global/parameters/celery-prod-autoscaler") || '
    'resource.name.extract("/locations/global/parameters/{name}/versions/") == "celery-prod-autoscaler"'
)


def grant(**fields: object) -> dict[str, object]:
    return {
        "project": "demo",
        "role": "roles/parametermanager.parameterViewer",
        "member": MEMBER,
        "condition": {"title": "only celery-prod-autoscaler", "expression": CONDITION},
        **fields,
    }


def test_the_autoscalers_conditioned_parameter_viewer_passes() -> None:
    assert validate_resource(no_project_wide_iam, PROJECT_IAM_MEMBER, grant()) == []


@pytest.mark.parametrize(
    ("props", "fragment"),
    [
        (grant(role="roles/run.developer"), "gives 'roles/run.developer' on the whole project"),
        (grant(role="roles/parametermanager.parameterAccessor"), "on the whole project"),
        ({k: v for k, v in grant().items() if k != "condition"}, "with condition None, which does not pin one parameter"),
        (grant(condition={"title": "t", "expression": "true"}), "does not pin one parameter"),
        (
            grant(condition={"title": "t", "expression": 'resource.name.startsWith("projects/demo")'}),
            "does not pin one parameter",
        ),
        (
            # The versions clause names a different parameter than the first.
            grant(condition={"title": "t", "expression": CONDITION.replace('== "celery-prod-autoscaler"', '== "other"')}),
            "does not pin one parameter",
        ),
        (grant(condition={"title": "t", "expression": CONDITION + " || true"}), "does not pin one parameter"),
    ],
)
def test_anything_wider_is_a_violation(props: dict[str, object], fragment: str) -> None:
    (violation,) = validate_resource(no_project_wide_iam, PROJECT_IAM_MEMBER, props, name="viewer")
    assert fragment in violation
    assert "grant on the resource instead" in violation or "condition it as" in violation


def test_bindings_and_policies_on_the_project_are_violations() -> None:
    (binding,) = validate_resource(no_project_wide_iam, PROJECT_IAM_BINDING, grant(), name="b")
    assert "authoritative" in binding
    (policy,) = validate_resource(no_project_wide_iam, PROJECT_IAM_POLICY, {"policyData": "{}"}, name="p")
    assert "replaces the project's whole policy" in policy


def autoscaler_service(image: str) -> dict[str, object]:
    return {
        "labels": {"app": "cloudrun-celery", "role": "autoscaler"},
        "template": {"containers": [container(image=image)]},
    }


def test_the_autoscaler_may_pin_cremas_image_by_version_tag() -> None:
    image = "us-central1-docker.pkg.dev/cloud-run-oss-images/crema-v1/autoscaler:1.2"
    assert validate_resource(images_pinned_by_digest, SERVICE, autoscaler_service(image), name="autoscaler") == []


@pytest.mark.parametrize("tag", [":latest", "", ":main"])
def test_the_autoscaler_image_is_never_latest_or_unversioned(tag: str) -> None:
    image = f"us-central1-docker.pkg.dev/cloud-run-oss-images/crema-v1/autoscaler{tag}"
    (violation,) = validate_resource(images_pinned_by_digest, SERVICE, autoscaler_service(image), name="autoscaler")
    assert "REPO@sha256:DIGEST" in violation


def test_a_worker_may_not_use_the_version_tag_exemption() -> None:
    props = autoscaler_service("europe-west1-docker.pkg.dev/p/r/worker:1.2")
    props["labels"] = {"role": "worker"}
    (violation,) = validate_resource(images_pinned_by_digest, SERVICE, props, name="worker")
    assert "pinned only by the tag :1.2" in violation
