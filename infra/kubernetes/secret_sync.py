"""Secret Manager -> Kubernetes Secrets with External Secrets Operator, one store per workload.

Why ESO (docs/kubernetes.md): the images read REDIS_URL and the app secrets from env vars,
which the GKE Secret Manager add-on (CSI, files only) cannot provide. Each workload's
SecretStore authenticates as that workload's KSA, which Workload Identity maps to its own
Google service account, so the per-secret grants are the Cloud Run ones. Pulumi writes only the
references (ExternalSecret); the values go from Secret Manager to the cluster, never via state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes.manifests import Manifest, secret_name

# docs/pins.md
ESO_CHART = "external-secrets"
ESO_CHART_VERSION = "0.19.2"
ESO_CHART_REPO = "https://charts.external-secrets.io"
ESO_NAMESPACE = "external-secrets"
REFRESH_INTERVAL = "1h"


def secret_store(workload: str, namespace: str, project: str, cluster: Any, location: str) -> Manifest:
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "SecretStore",
        "metadata": {"name": workload, "namespace": namespace},
        "spec": {
            "provider": {
                "gcpsm": {
                    "projectID": project,
                    "auth": {
                        "workloadIdentity": {
                            "clusterLocation": location,
                            "clusterName": cluster,
                            "serviceAccountRef": {"name": workload},
                        }
                    },
                }
            }
        },
    }


def external_secret(workload: str, namespace: str, keys: Mapping[str, tuple[Any, Any]]) -> Manifest:
    """``keys``: key in the synced Secret -> (Secret Manager secret id, version)."""
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": workload, "namespace": namespace},
        "spec": {
            "refreshInterval": REFRESH_INTERVAL,
            "secretStoreRef": {"kind": "SecretStore", "name": workload},
            "target": {"name": secret_name(workload), "creationPolicy": "Owner"},
            "data": [
                {"secretKey": key, "remoteRef": {"key": secret_id, "version": version}}
                for key, (secret_id, version) in sorted(keys.items())
            ],
        },
    }
