"""KEDA: installed by the program (pinned chart), one ScaledObject per worker group.

The ScaledObjects come from the scaling spec the Cloud Run autoscaler reads
(``autoscaling.spec``), rendered by the same function as CREMA's (``autoscaling.scaled_object``):
the same Redis key (the queue's work ledger), target per instance, bounds and behavior. AUTH and the broker's CA come
from Secret Manager through a TriggerAuthentication whose identity is KEDA's own Workload
Identity: no secret value in any Kubernetes object Pulumi writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autoscaling.scaled_object import TRIGGER_AUTHENTICATION, scaled_object_spec, secret_manager_secrets
from autoscaling.spec import GroupScalingSpec

from kubernetes.manifests import Manifest

# docs/pins.md: the chart of KEDA v2.20, the KEDA the Cloud Run autoscaler (CREMA 1.2) runs.
KEDA_CHART = "keda"
KEDA_CHART_VERSION = "2.20.0"
KEDA_CHART_REPO = "https://kedacore.github.io/charts"
KEDA_NAMESPACE = "keda"
# KEDA's own default for the wait before the last step to zero.
KEDA_DEFAULT_COOLDOWN_SECONDS = 300
KEDA_OPERATOR_KSA = "keda-operator"


def keda_values(google_account: Any) -> dict[str, Any]:
    """Helm values: the operator authenticates to Secret Manager as its own Google account."""
    return {
        "podIdentity": {"gcp": {"enabled": True, "gcpIAMServiceAccount": google_account}},
        "serviceAccount": {"operator": {"name": KEDA_OPERATOR_KSA}},
    }


def trigger_authentication(namespace: str, password_secret: Any, ca_secret: Any | None) -> Manifest:
    """AUTH and the CA from Secret Manager, read as KEDA's own Google account (Workload Identity).

    KEDA v2.20's ``GCPSecretManager`` (``apis/keda/v1alpha1/triggerauthentication_types.go``):
    ``podIdentity`` sits inside ``gcpSecretManager``; the project is the operator's own
    (``CLOUDSDK_CORE_PROJECT`` or the metadata server, ``gcp_secretmanager_handler.go``).
    """
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": TRIGGER_AUTHENTICATION, "namespace": namespace},
        "spec": {
            "gcpSecretManager": {
                "secrets": secret_manager_secrets(password_secret, ca_secret),
                "podIdentity": {"provider": "gcp"},
            }
        },
    }


def scaled_object(spec: GroupScalingSpec, deployment: str, namespace: str, redis_address: Any, tls: bool) -> Manifest:
    """The group's ScaledObject: the spec CREMA reads on Cloud Run, plus what only KEDA reads."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": deployment, "namespace": namespace},
        "spec": {
            **scaled_object_spec(spec, deployment, redis_address, tls),
            # CREMA has one polling interval per service (its config's top level); KEDA one per object.
            "pollingInterval": spec.polling_interval_seconds,
            # KEDA's last step to zero waits cooldownPeriod (CREMA ignores it): the same quiet
            # window as every other step down.
            "cooldownPeriod": (
                spec.behavior.scale_down.stabilization_seconds
                if spec.behavior.scale_down is not None
                else KEDA_DEFAULT_COOLDOWN_SECONDS
            ),
        },
    }


def scaled_groups(specs: Sequence[GroupScalingSpec]) -> frozenset[str]:
    """Groups KEDA scales: their Deployments get no HPA of ours and no fixed replica count."""
    return frozenset(s.group for s in specs)
