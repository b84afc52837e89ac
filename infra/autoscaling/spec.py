"""The scaling spec: for each autoscaled worker group, what to count and how to turn it into instances.

A pure function of the settings, shared by every target that scales on queue depth: CREMA on
Cloud Run (``crema_config``) and KEDA on Kubernetes read the same ``GroupScalingSpec``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from settings.autoscaling import AutoscalerSettings
from settings.workers import WorkerGroupSettings
from task_contract.autoscaling import Behavior, Policy, Rules
from task_contract.work_ledger import ledger_key

# Scale-up is never rate-limited beyond one polling interval: the backlog is already there.
SCALE_UP_PERIOD_SECONDS = 15


@dataclass(frozen=True)
class GroupScalingSpec:
    group: str
    queue: str
    signal_key: str
    """The sorted set whose ZCARD is the signal: the queue's work ledger (task_contract.work_ledger)."""
    target_per_instance: int
    min_instances: int
    max_instances: int
    polling_interval_seconds: int
    behavior: Behavior


def scaling_specs(
    workers: Sequence[WorkerGroupSettings], autoscaler: AutoscalerSettings
) -> tuple[GroupScalingSpec, ...]:
    """One spec per group with ``autoscaling: queueDepth``, in the order of ``workers``."""
    return tuple(
        GroupScalingSpec(
            group=group.name,
            # Settings guarantee exactly one queue for an autoscaled group.
            queue=group.queues[0],
            signal_key=ledger_key(group.queues[0]),
            target_per_instance=group.autoscaling.target_per_instance,
            min_instances=group.min_instances,
            max_instances=group.max_instances,
            polling_interval_seconds=autoscaler.polling_interval_seconds,
            behavior=behavior(group.max_instances, autoscaler),
        )
        for group in workers
        if group.autoscaling is not None
    )


def behavior(max_instances: int, autoscaler: AutoscalerSettings) -> Behavior:
    """Up: straight to the recommendation. Down: after a quiet window, a share per period."""
    return Behavior(
        scale_up=Rules(
            stabilization_seconds=0,
            policies=(Policy("Pods", max_instances, SCALE_UP_PERIOD_SECONDS),),
        ),
        scale_down=Rules(
            stabilization_seconds=autoscaler.scale_down_stabilization_seconds,
            policies=(
                Policy("Percent", autoscaler.scale_down_percent, autoscaler.scale_down_period_seconds),
            ),
        ),
    )
