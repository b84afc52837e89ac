"""The Kubernetes objects of the stack as plain manifests (camelCase, as ``kubectl`` reads them).

Pure functions of the settings: the component (``workloads.py``) declares them with
pulumi-kubernetes, and the tests render the very same dicts to YAML for schema validation and
``podman kube play``. Values may be Pulumi inputs (an image reference, a secret id).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import runtime_contract
from task_contract import deployment as contract

Manifest = dict[str, Any]

# Every pod: non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp.
POD_SECURITY: Manifest = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY: Manifest = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}
# The only writable path (a read-only root filesystem): Python's and Celery's temp files.
TMP_VOLUME = "tmp"


@dataclass(frozen=True)
class Workload:
    """One Deployment: the API or a worker group."""

    name: str  # "api" or "worker-<group>"
    role: str  # contract.API_ROLE or contract.WORKER_ROLE
    image: Any
    service_account: str
    google_account: Any  # the Google service account the KSA maps to (Workload Identity)
    replicas: int
    cpu: str
    memory: str
    env: Mapping[str, Any]  # plain values (pulumi Inputs under the program, strings when rendered to YAML)
    secret_env: Mapping[str, str]  # env var -> key in the workload's synced Secret
    secret_files: Mapping[str, tuple[str, str]]  # directory -> (file name, key)
    liveness_path: str
    readiness_path: str
    grace_period_seconds: int
    spot: bool = False


def labels(workload: Workload) -> dict[str, str]:
    return {
        contract.APP_LABEL: contract.APP_NAME,
        contract.ROLE_LABEL: workload.role,
        "workload": workload.name,
    }


def secret_name(workload_name: str) -> str:
    """The Kubernetes Secret the sync writes for one workload (values never pass through Pulumi)."""
    return f"{workload_name}-secrets"


def deployment(workload: Workload, namespace: str) -> Manifest:
    env: list[Manifest] = [{"name": k, "value": v} for k, v in sorted(workload.env.items())]
    env.append({"name": contract.PORT_ENV, "value": str(runtime_contract.PORT)})
    env += [
        {"name": k, "valueFrom": {"secretKeyRef": {"name": secret_name(workload.name), "key": key}}}
        for k, key in sorted(workload.secret_env.items())
    ]
    volumes: list[Manifest] = [{"name": TMP_VOLUME, "emptyDir": {"sizeLimit": "256Mi"}}]
    mounts: list[Manifest] = [{"name": TMP_VOLUME, "mountPath": "/tmp"}]
    if contract.METRICS_DIR_ENV in workload.env:
        # The worker's prometheus_client multiprocess files: in memory, as on Cloud Run.
        volumes.append(
            {
                "name": runtime_contract.METRICS_VOLUME,
                "emptyDir": {"medium": "Memory", "sizeLimit": runtime_contract.METRICS_DIR_SIZE},
            }
        )
        mounts.append({"name": runtime_contract.METRICS_VOLUME, "mountPath": workload.env[contract.METRICS_DIR_ENV]})
    for index, (directory, (file_name, key)) in enumerate(sorted(workload.secret_files.items())):
        volume = f"secret-{index}"
        volumes.append(
            {
                "name": volume,
                "secret": {
                    "secretName": secret_name(workload.name),
                    "items": [{"key": key, "path": file_name}],
                    "defaultMode": 0o440,
                },
            }
        )
        mounts.append({"name": volume, "mountPath": directory, "readOnly": True})
    resources = {"cpu": workload.cpu, "memory": workload.memory}
    pod_spec: Manifest = {
        "serviceAccountName": workload.service_account,
        # Workload Identity goes through the GKE metadata server; no pod talks to the Kubernetes API.
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": workload.grace_period_seconds,
        "securityContext": POD_SECURITY,
        "containers": [
            {
                "name": workload.name,
                "image": workload.image,
                "ports": [{"name": "http", "containerPort": runtime_contract.PORT}],
                "env": env,
                "resources": {"requests": resources, "limits": resources},
                "securityContext": CONTAINER_SECURITY,
                "livenessProbe": _probe(workload.liveness_path, failure_threshold=3),
                "readinessProbe": _probe(workload.readiness_path, failure_threshold=2),
                "startupProbe": _probe(workload.liveness_path, failure_threshold=30),
                "volumeMounts": mounts,
            }
        ],
        "volumes": volumes,
    }
    if workload.spot:
        # Autopilot provisions spot capacity for pods that select it.
        pod_spec["nodeSelector"] = {"cloud.google.com/gke-spot": "true"}
        pod_spec["tolerations"] = [
            {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": workload.name, "namespace": namespace, "labels": labels(workload)},
        "spec": {
            "replicas": workload.replicas,
            "selector": {"matchLabels": {"workload": workload.name}},
            "template": {"metadata": {"labels": labels(workload)}, "spec": pod_spec},
        },
    }


def _probe(path: str, *, failure_threshold: int) -> Manifest:
    return {
        "httpGet": {"path": path, "port": runtime_contract.PORT},
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": failure_threshold,
    }


def api_service(workload: Workload, namespace: str, public: bool) -> Manifest:
    """The way in: a LoadBalancer Service, external only when ``api.public`` (docs/kubernetes.md)."""
    annotations = {} if public else {"networking.gke.io/load-balancer-type": "Internal"}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": workload.name,
            "namespace": namespace,
            "labels": labels(workload),
            "annotations": annotations,
        },
        "spec": {
            "type": "LoadBalancer",
            "selector": {"workload": workload.name},
            "ports": [{"name": "http", "port": 80, "targetPort": runtime_contract.PORT}],
        },
    }


def cpu_autoscaler(workload: Workload, namespace: str, max_replicas: int) -> Manifest:
    """The API's HPA on CPU. Workers scale by KEDA instead: never both on one Deployment."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": workload.name, "namespace": namespace, "labels": labels(workload)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload.name},
            "minReplicas": workload.replicas,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
    }


def disruption_budget(workload: Workload, namespace: str) -> Manifest:
    """At most one pod of a workload evicted at a time (node upgrades, Autopilot bin-packing)."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": workload.name, "namespace": namespace, "labels": labels(workload)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"workload": workload.name}}},
    }


def service_account(name: str, namespace: str, google_account: Any) -> Manifest:
    """A KSA bound through Workload Identity to the workload's own Google service account."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {"iam.gke.io/gcp-service-account": google_account},
        },
    }
