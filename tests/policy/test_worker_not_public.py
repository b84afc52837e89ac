"""Rule 1: the worker is not public (ingress, invoker IAM switch, public invoker grants)."""

from __future__ import annotations

import json

import pytest

from policy.cloudrun_celery_policy.policies import (
    worker_no_public_invoker,
    worker_not_public,
)
from policy.cloudrun_celery_policy.resources import (
    SERVICE,
    SERVICE_IAM_BINDING,
    SERVICE_IAM_MEMBER,
    SERVICE_IAM_POLICY,
    parent_types,
)
from tests.policy.support import (
    StackResource,
    api_service,
    validate_resource,
    validate_stack,
    worker_service,
)


def test_internal_only_worker_passes() -> None:
    assert (
        validate_resource(worker_not_public, SERVICE, worker_service(), name="worker")
        == []
    )


@pytest.mark.parametrize(
    "ingress", ["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"]
)
def test_worker_with_wider_ingress_is_caught(ingress: str) -> None:
    violations = validate_resource(
        worker_not_public, SERVICE, worker_service(ingress=ingress), name="worker"
    )
    assert violations == [
        (
            f"Cloud Run service 'worker' (name 'worker-default') is a worker (label role=worker) but its ingress is "
            f"{ingress}; set ingress='INGRESS_TRAFFIC_INTERNAL_ONLY'."
        )
    ]


def test_worker_without_ingress_gets_the_public_default_and_is_caught() -> None:
    props = worker_service()
    del props["ingress"]
    [violation] = validate_resource(worker_not_public, SERVICE, props, name="worker")
    assert "INGRESS_TRAFFIC_ALL (default)" in violation


def test_worker_with_invoker_iam_disabled_is_caught() -> None:
    [violation] = validate_resource(
        worker_not_public,
        SERVICE,
        worker_service(invokerIamDisabled=True),
        name="worker",
    )
    assert "invokerIamDisabled=true" in violation


def test_public_api_is_not_a_worker() -> None:
    # The API is meant to be reachable; only the worker label triggers the rule.
    assert (
        validate_resource(
            worker_not_public, SERVICE, api_service(invokerIamDisabled=True), name="api"
        )
        == []
    )


def test_worker_label_is_the_marker() -> None:
    unlabelled = worker_service(ingress="INGRESS_TRAFFIC_ALL", labels={"role": "api"})
    assert (
        validate_resource(worker_not_public, SERVICE, unlabelled, name="worker") == []
    )


def _stack(*iam: StackResource) -> list[StackResource]:
    return [
        StackResource(SERVICE, "worker", worker_service()),
        StackResource(SERVICE, "api", api_service()),
        *iam,
    ]


@pytest.mark.parametrize("member", ["allUsers", "allAuthenticatedUsers"])
def test_public_invoker_member_on_worker_is_caught(member: str) -> None:
    grant = StackResource(
        SERVICE_IAM_MEMBER,
        "worker-public",
        {
            "name": "worker-default",
            "location": "europe-west1",
            "role": "roles/run.invoker",
            "member": member,
        },
    )
    violations = validate_stack(worker_no_public_invoker, _stack(grant))
    assert violations == [
        (
            (
                f"IAM resource 'worker-public' grants roles/run.invoker to {member} on worker service 'worker-default'; "
                "a worker takes its work from the queue, never from outside callers: remove this grant."
            ),
            "urn:pulumi:dev::cloudrun-celery::gcp:cloudrunv2/serviceIamMember:ServiceIamMember::worker-public",
        )
    ]


def test_public_invoker_by_fully_qualified_name_is_caught() -> None:
    grant = StackResource(
        SERVICE_IAM_BINDING,
        "worker-binding",
        {
            "name": "projects/demo/locations/europe-west1/services/worker-default",
            "role": "roles/run.invoker",
            "members": ["serviceAccount:api@demo.iam.gserviceaccount.com", "allUsers"],
        },
    )
    [(violation, _)] = validate_stack(worker_no_public_invoker, _stack(grant))
    assert "to allUsers on worker service 'worker-default'" in violation


def test_public_invoker_in_iam_policy_document_is_caught() -> None:
    document = {
        "bindings": [
            {"role": "roles/run.invoker", "members": ["allAuthenticatedUsers"]}
        ]
    }
    grant = StackResource(
        SERVICE_IAM_POLICY,
        "worker-policy",
        {"name": "worker-default", "policyData": json.dumps(document)},
    )
    [(violation, _)] = validate_stack(worker_no_public_invoker, _stack(grant))
    assert "allAuthenticatedUsers" in violation


def test_public_invoker_found_through_property_dependency() -> None:
    # The IAM name does not match textually, but the engine says it came from the worker.
    grant = StackResource(
        SERVICE_IAM_MEMBER,
        "worker-public",
        {
            "name": "some-other-spelling",
            "role": "roles/run.invoker",
            "member": "allUsers",
        },
        property_dependencies={"name": ["worker"]},
    )
    assert len(validate_stack(worker_no_public_invoker, _stack(grant))) == 1


def test_public_invoker_on_api_and_private_invoker_on_worker_pass() -> None:
    public_api = StackResource(
        SERVICE_IAM_MEMBER,
        "api-public",
        {"name": "api", "role": "roles/run.invoker", "member": "allUsers"},
    )
    api_calls_worker = StackResource(
        SERVICE_IAM_MEMBER,
        "worker-invoker",
        {
            "name": "worker-default",
            "role": "roles/run.invoker",
            "member": "serviceAccount:api@demo.iam.gserviceaccount.com",
        },
    )
    public_viewer = StackResource(
        SERVICE_IAM_MEMBER,
        "worker-viewer",
        {"name": "worker-default", "role": "roles/run.viewer", "member": "allUsers"},
    )
    assert (
        validate_stack(
            worker_no_public_invoker,
            _stack(public_api, api_calls_worker, public_viewer),
        )
        == []
    )


WORKER_COMPONENT_URN = "urn:pulumi:dev::cloudrun-celery::cloudrun-celery:infra:WorkerService$gcp:cloudrunv2/service:Service::worker-fast"


def test_service_inside_worker_component_is_a_worker_without_the_label() -> None:
    unlabelled = worker_service(ingress="INGRESS_TRAFFIC_ALL", labels={})
    violations = validate_resource(
        worker_not_public,
        SERVICE,
        unlabelled,
        name="worker-fast",
        resource_urn=WORKER_COMPONENT_URN,
    )
    assert violations == [
        (
            "Cloud Run service 'worker-fast' (name 'worker-default') is a worker (declared in a "
            "WorkerService component) but its ingress is INGRESS_TRAFFIC_ALL; "
            "set ingress='INGRESS_TRAFFIC_INTERNAL_ONLY'."
        )
    ]
    # The same unlabelled service outside the component is not a worker.
    assert (
        validate_resource(worker_not_public, SERVICE, unlabelled, name="worker-fast")
        == []
    )


def test_parent_types_come_from_the_urn() -> None:
    assert parent_types(WORKER_COMPONENT_URN) == ["cloudrun-celery:infra:WorkerService"]
    assert parent_types("urn:pulumi:dev::p::gcp:cloudrunv2/service:Service::api") == []
    assert parent_types("not-a-urn") == []
