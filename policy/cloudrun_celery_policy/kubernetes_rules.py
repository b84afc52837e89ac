"""The Kubernetes rules (platform: gke): pure functions over pulumi-kubernetes inputs, and their policies.

The engine shows a pulumi-kubernetes resource's inputs in the manifest's own camelCase
(``spec.template.spec.containers[0].securityContext``). Each rule returns one message per
problem, naming the object, the value and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from task_contract.deployment import ROLE_LABEL, WORKER_ROLE

from .resources import get_mapping, get_sequence, has_key

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CRON_JOB = "kubernetes:batch/v1:CronJob"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
K8S_SERVICE = "kubernetes:core/v1:Service"
K8S_SECRET = "kubernetes:core/v1:Secret"
INTERNAL_LB = ("networking.gke.io/load-balancer-type", "Internal")


def _name(props: Mapping[str, Any], fallback: str) -> str:
    return str(get_mapping(props, "metadata").get("name", fallback))


def _pod(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """A Deployment's pod spec, or a CronJob's (spec.jobTemplate.spec.template.spec)."""
    spec = get_mapping(props, "spec")
    if has_key(spec, "jobTemplate"):
        spec = get_mapping(get_mapping(spec, "jobTemplate"), "spec")
    return get_mapping(get_mapping(spec, "template"), "spec")


def _kind(props: Mapping[str, Any]) -> str:
    return "CronJob" if has_key(get_mapping(props, "spec"), "jobTemplate") else "Deployment"


def check_pod_security(name: str, props: Mapping[str, Any]) -> list[str]:
    """Non-root, no privilege escalation, read-only root fs, caps dropped, RuntimeDefault seccomp."""
    pod = _pod(props)
    pod_sc = get_mapping(pod, "securityContext")
    problems = []
    seccomp = get_mapping(pod_sc, "seccompProfile").get("type")
    if seccomp != "RuntimeDefault":
        problems.append(f"{_kind(props)} {name}: seccompProfile.type is {seccomp!r}; set RuntimeDefault")
    for c in get_sequence(pod, "containers"):
        label = f"{_kind(props)} {name} container {c.get('name')}"
        sc = get_mapping(c, "securityContext")
        if sc.get("runAsNonRoot") is not True and pod_sc.get("runAsNonRoot") is not True:
            problems.append(f"{label}: may run as root; set securityContext.runAsNonRoot: true")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{label}: allows privilege escalation; set allowPrivilegeEscalation: false")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{label}: root filesystem is writable; set readOnlyRootFilesystem: true")
        if "ALL" not in list(get_sequence(get_mapping(sc, "capabilities"), "drop")):
            problems.append(f"{label}: keeps Linux capabilities; set capabilities.drop: [ALL]")
    return problems


def check_probes(name: str, props: Mapping[str, Any]) -> list[str]:
    problems = []
    for c in get_sequence(_pod(props), "containers"):
        for probe in ("livenessProbe", "readinessProbe"):
            if not has_key(c, probe):
                problems.append(
                    f"Deployment {name} container {c.get('name')}: no {probe}; probe the health endpoint"
                )
    return problems


def check_no_plaintext_secret(name: str, props: Mapping[str, Any]) -> list[str]:
    """Secret values come from Secret Manager (External Secrets), never from a Pulumi-written Secret."""
    if has_key(props, "data") or has_key(props, "stringData"):
        return [
            f"Secret {name}: holds values in the Pulumi state; keep them in Secret Manager and sync "
            "them with an ExternalSecret (docs/kubernetes.md)"
        ]
    return []


def check_no_public_worker(name: str, props: Mapping[str, Any]) -> list[str]:
    spec = get_mapping(props, "spec")
    selects_worker = get_mapping(spec, "selector").get(ROLE_LABEL) == WORKER_ROLE or str(
        get_mapping(spec, "selector").get("workload", "")
    ).startswith("worker-")
    if not selects_worker:
        return []
    return [f"Service {name}: exposes worker pods; workers take no traffic, remove the Service"]


def check_pdb_per_workload(deployments: Sequence[Mapping[str, Any]], pdbs: Sequence[Mapping[str, Any]]) -> list[str]:
    covered = [dict(get_mapping(get_mapping(p, "spec"), "selector").get("matchLabels", {})) for p in pdbs]
    problems = []
    for d in deployments:
        labels = dict(get_mapping(get_mapping(get_mapping(d, "spec"), "template"), "metadata").get("labels", {}))
        if not any(sel and all(labels.get(k) == v for k, v in sel.items()) for sel in covered):
            problems.append(
                f"Deployment {_name(d, '?')}: no PodDisruptionBudget selects its pods; add one (maxUnavailable: 1)"
            )
    return problems


def _resource_rule(rule: Any, resource_types: tuple[str, ...]) -> Any:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type in resource_types:
            for problem in rule(_name(args.props, args.name), args.props):
                report(problem, args.urn)

    return validate


def _validate_pdbs(args: StackValidationArgs, report: ReportViolation) -> None:
    deployments = [r.props for r in args.resources if r.resource_type == DEPLOYMENT]
    pdbs = [r.props for r in args.resources if r.resource_type == PDB]
    for problem in check_pdb_per_workload(deployments, pdbs):
        report(problem, None)


def _policy(name: str, description: str, rule: Any, *resource_types: str) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=_resource_rule(rule, resource_types),
        enforcement_level=EnforcementLevel.MANDATORY,
    )


k8s_pod_security = _policy(
    "k8s-pod-security",
    "Kubernetes pods run as non-root, without privilege escalation, read-only, no capabilities, seccomp RuntimeDefault.",
    check_pod_security,
    DEPLOYMENT,
    CRON_JOB,
)
k8s_probes = _policy("k8s-probes", "Every container has liveness and readiness probes.", check_probes, DEPLOYMENT)
k8s_no_plaintext_secret = _policy(
    "k8s-no-plaintext-secret", "No Kubernetes Secret carries values written by Pulumi.", check_no_plaintext_secret, K8S_SECRET
)
k8s_no_public_worker = _policy(
    "k8s-no-public-worker", "No Kubernetes Service exposes worker pods.", check_no_public_worker, K8S_SERVICE
)
k8s_pdb_per_workload = StackValidationPolicy(
    name="k8s-pdb-per-workload",
    description="Every Deployment has a PodDisruptionBudget selecting its pods.",
    validate=_validate_pdbs,
    enforcement_level=EnforcementLevel.MANDATORY,
)

KUBERNETES_POLICIES = [k8s_pod_security, k8s_probes, k8s_no_plaintext_secret, k8s_no_public_worker, k8s_pdb_per_workload]
