"""The ScaledObject both autoscalers read, rendered once from the scaling spec.

CREMA on Cloud Run (``crema_config``) and KEDA on GKE (``kubernetes/keda.py``) run the same KEDA
code (v2.20), so one function renders the part they share: the target, the bounds, the Redis
trigger on the group's work ledger and the HPA behavior. Field names are KEDA v2.20's
(``ScaledObjectSpec``, ``ScaleTriggers``; the Redis scaler's metadata in
``pkg/scalers/redis_scaler.go``); docs/scaling.md explains each choice.
"""

from __future__ import annotations

from typing import Any

from task_contract.autoscaling import Rules

from autoscaling.spec import GroupScalingSpec

# The TriggerAuthentication every trigger names: AUTH and the broker's CA from Secret Manager.
TRIGGER_AUTHENTICATION = "broker"


def scaled_object_spec(spec: GroupScalingSpec, target: str, broker_address: Any, tls: bool) -> dict[str, Any]:
    """``target`` is what is scaled: a worker pool's full name (CREMA) or a Deployment's (KEDA)."""
    return {
        "scaleTargetRef": {"name": target},
        "minReplicaCount": spec.min_instances,
        "maxReplicaCount": spec.max_instances,
        "triggers": [redis_trigger(spec, broker_address, tls)],
        # CREMA forwards min/max only together with a behavior block (scaling/translation.go);
        # KEDA hands it to the HPA it creates.
        "advanced": {
            "horizontalPodAutoscalerConfig": {
                "behavior": {
                    direction: _rules(rules)
                    for direction, rules in (
                        ("scaleUp", spec.behavior.scale_up),
                        ("scaleDown", spec.behavior.scale_down),
                    )
                    if rules is not None
                }
            }
        },
    }


def redis_trigger(spec: GroupScalingSpec, broker_address: Any, tls: bool) -> dict[str, Any]:
    return {
        "type": "redis",
        "name": f"{spec.group}-work",
        "metricType": "AverageValue",
        "metadata": {
            "address": broker_address,
            # A sorted set: the scaler's script reads its TYPE and counts it with ZCARD.
            "listName": spec.signal_key,
            "listLength": str(spec.target_per_instance),
            "activationListLength": "0",
            "databaseIndex": "0",
            "enableTLS": "true" if tls else "false",
        },
        "authenticationRef": {"name": TRIGGER_AUTHENTICATION},
    }


def secret_manager_secrets(password_secret_id: Any, ca_secret_id: Any | None) -> list[dict[str, Any]]:
    """The trigger's auth parameters, each read from Secret Manager (``GCPSecretManagerSecret``)."""
    secrets = [{"parameter": "password", "id": password_secret_id, "version": "latest"}]
    if ca_secret_id is not None:
        secrets.append({"parameter": "ca", "id": ca_secret_id, "version": "latest"})
    return secrets


def _rules(rules: Rules) -> dict[str, Any]:
    return {
        "stabilizationWindowSeconds": rules.stabilization_seconds,
        "selectPolicy": "Max",
        "policies": [
            {"type": p.kind, "value": p.value, "periodSeconds": p.period_seconds} for p in rules.policies
        ],
    }
