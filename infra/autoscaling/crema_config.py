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

from autoscaling.scaled_object import TRIGGER_AUTHENTICATION, scaled_object_spec, secret_manager_secrets
from autoscaling.spec import GroupScalingSpec


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
    secrets = secret_manager_secrets(broker.password_secret_id, broker.ca_secret_id)
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
                {"spec": scaled_object_spec(spec, targets[spec.group], broker.address, broker.ca_secret_id is not None)}
                for spec in specs
            ],
        },
    }


def render(config: dict[str, Any]) -> str:
    """The parameter's payload. JSON is YAML, which CREMA's parser (sigs.k8s.io/yaml) reads."""
    return json.dumps(config, indent=2, sort_keys=True) + "\n"
