"""Managed Service for Prometheus on GKE: one PodMonitoring for the API and worker pods.

GKE Autopilot runs managed collection (collectors in ``gke-gmp-system``); a PodMonitoring
(``monitoring.googleapis.com/v1``) tells them what to scrape: ``/metrics`` on the pods' ``http``
port every 60 s, as the Cloud Run sidecar does (monitoring/collector.py). The series land in the
same Cloud Monitoring project with ``namespace`` = the Kubernetes namespace, which the alerts
select on ``platform: gke`` (monitoring/alerts.py, ``AlertTargets.gke_namespace``).
"""

from __future__ import annotations

from task_contract import deployment as contract

from kubernetes.manifests import Manifest

SCRAPE_INTERVAL = "60s"
METRICS_PATH = "/metrics"
# Where GKE's managed collectors run (gke-gmp-system on current GKE, gmp-system on older
# clusters): the workloads' NetworkPolicies let them, and only them, scrape.
GMP_NAMESPACES = ["gke-gmp-system", "gmp-system"]
GMP_COLLECTOR = {"app.kubernetes.io/name": "collector"}


def pod_monitoring(namespace: str) -> Manifest:
    return {
        "apiVersion": "monitoring.googleapis.com/v1",
        "kind": "PodMonitoring",
        "metadata": {"name": contract.APP_NAME, "namespace": namespace},
        "spec": {
            "selector": {
                "matchExpressions": [
                    {"key": contract.ROLE_LABEL, "operator": "In", "values": [contract.API_ROLE, contract.WORKER_ROLE]}
                ]
            },
            "endpoints": [{"port": "http", "path": METRICS_PATH, "interval": SCRAPE_INTERVAL}],
        },
    }


def collector_peer() -> Manifest:
    """A NetworkPolicy peer: the managed collectors' pods."""
    return {
        "namespaceSelector": {
            "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": GMP_NAMESPACES}]
        },
        "podSelector": {"matchLabels": GMP_COLLECTOR},
    }
