"""The policy pack's Kubernetes rules: each passes the program's gke stack and catches a violating resource."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policy.cloudrun_celery_policy.kubernetes_rules import (
    CRON_JOB,
    DEPLOYMENT,
    K8S_SECRET,
    K8S_SERVICE,
    PDB,
    k8s_no_plaintext_secret,
    k8s_no_public_worker,
    k8s_pdb_per_workload,
    k8s_pod_security,
    k8s_probes,
)
from tests.infra.harness import ProgramRun
from tests.policy.support import StackResource, validate_resource, validate_stack


def worker_deployment(gke: ProgramRun) -> dict[str, Any]:
    (d,) = [d for d in gke.of_type(DEPLOYMENT) if d.inputs["metadata"]["name"] == "worker-fast"]
    return copy.deepcopy(d.inputs)


def container(props: dict[str, Any]) -> dict[str, Any]:
    return props["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


def test_the_gke_stack_passes_every_kubernetes_rule(gke: ProgramRun) -> None:
    for d in gke.of_type(DEPLOYMENT):
        assert validate_resource(k8s_pod_security, DEPLOYMENT, d.inputs) == []
        assert validate_resource(k8s_probes, DEPLOYMENT, d.inputs) == []
    for s in gke.of_type(K8S_SERVICE):
        assert validate_resource(k8s_no_public_worker, K8S_SERVICE, s.inputs) == []
    stack = [StackResource(r.type_, r.name, r.inputs) for r in gke.resources if r.type_ in (DEPLOYMENT, PDB)]
    assert validate_stack(k8s_pdb_per_workload, stack) == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("runAsNonRoot", False, "may run as root"),
        ("allowPrivilegeEscalation", True, "allows privilege escalation"),
        ("readOnlyRootFilesystem", False, "root filesystem is writable"),
        ("capabilities", {"drop": []}, "keeps Linux capabilities"),
    ],
)
def test_pod_security_catches(gke: ProgramRun, field: str, value: Any, message: str) -> None:
    props = worker_deployment(gke)
    container(props)["securityContext"][field] = value
    if field == "runAsNonRoot":
        props["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = False
    (problem,) = validate_resource(k8s_pod_security, DEPLOYMENT, props)
    assert message in problem and "worker-fast" in problem


@pytest.mark.parametrize("probe", ["livenessProbe", "readinessProbe"])
def test_probes_rule_catches_a_missing_probe(gke: ProgramRun, probe: str) -> None:
    props = worker_deployment(gke)
    del container(props)[probe]
    (problem,) = validate_resource(k8s_probes, DEPLOYMENT, props)
    assert f"no {probe}" in problem


def test_pdb_rule_catches_a_workload_without_one(gke: ProgramRun) -> None:
    stack = [
        StackResource(r.type_, r.name, r.inputs)
        for r in gke.resources
        if r.type_ == DEPLOYMENT or (r.type_ == PDB and r.inputs["metadata"]["name"] != "worker-bulk")
    ]
    ((problem, _),) = validate_stack(k8s_pdb_per_workload, stack)
    assert "Deployment worker-bulk: no PodDisruptionBudget" in problem


def test_public_worker_rule_catches_a_service_selecting_workers() -> None:
    props = {"metadata": {"name": "oops"}, "spec": {"type": "LoadBalancer", "selector": {"workload": "worker-fast"}}}
    (problem,) = validate_resource(k8s_no_public_worker, K8S_SERVICE, props)
    assert "exposes worker pods" in problem


def test_plaintext_secret_rule_catches_a_secret_with_values() -> None:
    props = {"metadata": {"name": "redis"}, "stringData": {"url": "rediss://:pw@10.0.0.3:6378/0"}}
    (problem,) = validate_resource(k8s_no_plaintext_secret, K8S_SECRET, props)
    assert "holds values in the Pulumi state" in problem


def test_pod_security_covers_cron_jobs() -> None:
    # A schedule's CronJob (platform: gke, private API) is held to the same pod rules.
    pod = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
           "containers": [{"name": "tick", "securityContext": {"allowPrivilegeEscalation": False,
                                                               "readOnlyRootFilesystem": True,
                                                               "capabilities": {"drop": ["ALL"]}}}]}
    props = {"metadata": {"name": "schedule-x"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": pod}}}}}
    assert validate_resource(k8s_pod_security, CRON_JOB, props) == []
    pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    (problem,) = validate_resource(k8s_pod_security, CRON_JOB, props)
    assert "CronJob schedule-x container tick: allows privilege escalation" in problem
