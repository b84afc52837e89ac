"""Both autoscalers' ScaledObjects, rendered by the program's own code for one spec.

CREMA (Cloud Run, ``autoscaling/crema_config.py``) and KEDA (GKE, ``kubernetes/keda.py``) both
call ``autoscaling.scaled_object.scaled_object_spec``; the count test drives each rendering, and
``keda_redis_count`` reads a trigger's key the way KEDA v2.20's Redis scaler does.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import redis

from tests.infra.harness import PROGRAM_DIR

BROKER_ADDRESS = "10.0.0.3:6378"


def _program() -> Any:
    if str(PROGRAM_DIR) not in sys.path:
        sys.path.insert(0, str(PROGRAM_DIR))
    from autoscaling import crema_config, spec
    from kubernetes import keda
    from settings.autoscaling import AutoscalerSettings

    return crema_config, spec, keda, AutoscalerSettings


def group_spec(queue: str, target: int, min_instances: int, max_instances: int) -> Any:
    """The spec ``autoscaling.spec.scaling_specs`` makes for a group consuming ``queue``."""
    _, spec, _, settings = _program()
    autoscaler = settings(
        image="unused:1", polling_interval_seconds=15, scale_down_stabilization_seconds=120,
        scale_down_percent=50, scale_down_period_seconds=60,
    )
    from task_contract.work_ledger import ledger_key

    return spec.GroupScalingSpec(
        group="g", queue=queue, signal_key=ledger_key(queue), target_per_instance=target,
        min_instances=min_instances, max_instances=max_instances, polling_interval_seconds=15,
        behavior=spec.behavior(max_instances, autoscaler),
    )


def crema(group: Any) -> dict[str, Any]:
    crema_config, _, _, _ = _program()
    access = crema_config.BrokerAccess(BROKER_ADDRESS, "redis-auth", "redis-ca")
    config = crema_config.crema_config([group], {group.group: "projects/p/locations/r/workerPools/g"}, access)
    (scaled,) = config["spec"]["scaledObjects"]
    return dict(scaled["spec"])


def keda(group: Any) -> dict[str, Any]:
    _, _, keda_module, _ = _program()
    return dict(keda_module.scaled_object(group, "worker-g", "celery", BROKER_ADDRESS, True)["spec"])


RENDERERS: dict[str, Callable[[Any], dict[str, Any]]] = {"crema": crema, "keda": keda}


def keda_redis_count(client: redis.Redis, key: str) -> int:
    """KEDA v2.20's Redis scaler (pkg/scalers/redis_scaler.go): the key's TYPE picks the count."""
    kind = client.type(key).decode()
    command = {"zset": client.zcard, "set": client.scard, "hash": client.hlen, "list": client.llen}.get(kind)
    return int(command(key)) if command is not None else 0
