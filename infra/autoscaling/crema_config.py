"""CREMA's config (a ``CremaConfig``: KEDA ScaledObjects and TriggerAuthentications), rendered from the spec.

The field names are CREMA's (``metric-provider/api/crema_config.go``) and KEDA v2.20's
(``ScaledObjectSpec``, ``ScaleTriggers``, ``GCPSecretManager``; the Redis scaler's metadata in
``pkg/scalers/redis_scaler.go``). CREMA unmarshals strictly (``yaml.UnmarshalStrict``), so an
unknown field fails its start. docs/scaling.md explains each choice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from task_contract.autoscaling import Rules

from autoscaling.spec import GroupScalingSpec

TRIGGER_AUTHENTICATION = "broker"


@dataclass(frozen=True)
class BrokerAccess:
    """How CREMA reaches the broker: its address, and the Secret Manager ids of AUTH and the CA."""

    address: str
    password_secret_id: str
    ca_secret_id: str | None


def crema_config(
    specs: Sequence[GroupScalingSpec], targets: Mapping[str, str], broker: BrokerAccess
) -> dict[str, Any]:
    """The config for ``specs``; ``targets`` maps each group to its worker pool's full name."""
    secrets = [{"parameter": "password", "id": broker.password_secret_id, "version": "latest"}]
    if broker.ca_secret_id is not None:
        secrets.append({"parameter": "ca", "id": broker.ca_secret_id, "version": "latest"})
    polling = {spec.polling_interval_seconds for spec in specs}
    if len(polling) > 1:
        raise ValueError(f"one polling interval per CREMA service, got {sorted(polling)}")
    return {
        "apiVersion": "crema/v1",
        "kind": "CremaConfig",
        "spec": {
            "pollingInterval": polling.pop(),
            "triggerAuthentications": [
                {"metadata": {"name": TRIGGER_AUTHENTICATION}, "spec": {"gcpSecretManager": {"secrets": secrets}}}
            ],
            "scaledObjects": [
                {"spec": _scaled_object(spec, targets[spec.group], broker)} for spec in specs
            ],
        },
    }


def _scaled_object(spec: GroupScalingSpec, target: str, broker: BrokerAccess) -> dict[str, Any]:
    return {
        "scaleTargetRef": {"name": target},
        "minReplicaCount": spec.min_instances,
        "maxReplicaCount": spec.max_instances,
        "triggers": [
            {
                "type": "redis",
                "name": f"{spec.group}-work",
                "metricType": "AverageValue",
                "metadata": {
                    "address": broker.address,
                    # A sorted set: the scaler's script reads its TYPE and counts it with ZCARD.
                    "listName": spec.signal_key,
                    "listLength": str(spec.target_per_instance),
                    "activationListLength": "0",
                    "databaseIndex": "0",
                    "enableTLS": "true" if broker.ca_secret_id is not None else "false",
                },
                "authenticationRef": {"name": TRIGGER_AUTHENTICATION},
            }
        ],
        # CREMA forwards min/max only together with a behavior block (scaling/translation.go).
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


def _rules(rules: Rules) -> dict[str, Any]:
    return {
        "stabilizationWindowSeconds": rules.stabilization_seconds,
        "selectPolicy": "Max",
        "policies": [
            {"type": p.kind, "value": p.value, "periodSeconds": p.period_seconds} for p in rules.policies
        ],
    }


def render(config: dict[str, Any]) -> str:
    """The parameter's payload. JSON is YAML, which CREMA's parser (sigs.k8s.io/yaml) reads."""
    return json.dumps(config, indent=2, sort_keys=True) + "\n"
