"""KEDA: installed by the program (pinned chart), one ScaledObject per worker group.

The ScaledObjects come from the scaling spec the Cloud Run autoscaler reads (``ScalingSpec``:
the same Redis key, target per instance, bounds and behavior), rendered with KEDA's own field
names (ScaledObject ``keda.sh/v1alpha1``, the ``redis`` scaler). AUTH and the broker's CA come
from Secret Manager through a TriggerAuthentication whose identity is KEDA's own Workload
Identity: no secret value in any Kubernetes object Pulumi writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from kubernetes.manifests import Manifest

# docs/pins.md: the chart of KEDA v2.20, the KEDA the Cloud Run autoscaler (CREMA 1.2) runs.
KEDA_CHART = "keda"
KEDA_CHART_VERSION = "2.20.0"
KEDA_CHART_REPO = "https://kedacore.github.io/charts"
KEDA_NAMESPACE = "keda"
KEDA_OPERATOR_KSA = "keda-operator"
TRIGGER_AUTHENTICATION = "broker"


class ScalingSpec(Protocol):
    """The fields of the shared scaling spec (infra/autoscaling) this renderer reads."""

    @property
    def group(self) -> str: ...
    @property
    def signal_key(self) -> str: ...
    @property
    def target_per_instance(self) -> int: ...
    @property
    def min_instances(self) -> int: ...
    @property
    def max_instances(self) -> int: ...
    @property
    def polling_interval_seconds(self) -> int: ...


def keda_values(google_account: Any) -> dict[str, Any]:
    """Helm values: the operator authenticates to Secret Manager as its own Google account."""
    return {
        "podIdentity": {"gcp": {"enabled": True, "gcpIAMServiceAccount": google_account}},
        "serviceAccount": {"operator": {"name": KEDA_OPERATOR_KSA}},
    }


def trigger_authentication(
    namespace: str, project: str, password_secret: Any, ca_secret: Any | None
) -> Manifest:
    secrets = [{"parameter": "password", "id": password_secret, "version": "latest"}]
    if ca_secret is not None:
        secrets.append({"parameter": "ca", "id": ca_secret, "version": "latest"})
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": TRIGGER_AUTHENTICATION, "namespace": namespace},
        "spec": {"podIdentity": {"provider": "gcp"}, "gcpSecretManager": {"projectID": project, "secrets": secrets}},
    }


def scaled_object(spec: ScalingSpec, deployment: str, namespace: str, redis_address: Any, tls: bool) -> Manifest:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": deployment, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"name": deployment},
            "minReplicaCount": spec.min_instances,
            "maxReplicaCount": spec.max_instances,
            "pollingInterval": spec.polling_interval_seconds,
            "triggers": [
                {
                    "type": "redis",
                    "name": f"{spec.group}-work",
                    "metricType": "AverageValue",
                    "metadata": {
                        "address": redis_address,
                        "listName": spec.signal_key,
                        "listLength": str(spec.target_per_instance),
                        "activationListLength": "0",
                        "databaseIndex": "0",
                        "enableTLS": "true" if tls else "false",
                    },
                    "authenticationRef": {"name": TRIGGER_AUTHENTICATION},
                }
            ],
        },
    }


def scaled_groups(specs: Sequence[ScalingSpec]) -> frozenset[str]:
    """Groups KEDA scales: their Deployments get no HPA of ours and no fixed replica count."""
    return frozenset(s.group for s in specs)
