"""``flower``: the optional Flower monitor, IAM-only, and the worker groups it watches (docs/schedules.md)."""

from __future__ import annotations

from dataclasses import dataclass

from .platform import Platform, refuse_on_gke
from .reader import ConfigReader
from .services import ContainerSize

FLOWER_KEYS = frozenset({"enabled", "watchGroups"})
# One instance, CPU always allocated (it consumes events between requests); the estimator prices it.
FLOWER_SIZE = ContainerSize("1", "512Mi")


@dataclass(frozen=True)
class FlowerSettings:
    enabled: bool
    # Only these groups send task events and heartbeats: they cost throughput (docs/benchmarks.md).
    watch_groups: tuple[str, ...]
    size: ContainerSize = FLOWER_SIZE


def read_flower(reader: ConfigReader, worker_groups: tuple[str, ...]) -> FlowerSettings:
    cfg = reader.section("flower", FLOWER_KEYS)
    enabled = reader.boolean("flower.enabled", cfg.get("enabled"), False)
    groups = cfg.get("watchGroups", list(worker_groups))
    if not isinstance(groups, list) or not groups or not all(g in worker_groups for g in groups):
        reader.fail(
            "flower.watchGroups",
            groups,
            f"a non-empty list of worker group names from workers[].name ({', '.join(worker_groups)})",
        )
        groups = []
    return FlowerSettings(enabled=enabled, watch_groups=tuple(dict.fromkeys(groups)) if enabled else ())


def refuse_flower_on_gke(reader: ConfigReader, platform: Platform, flower: FlowerSettings) -> None:
    instead = "Flower runs as a Cloud Run service; on GKE run it with `kubectl port-forward`, docs/kubernetes.md"
    refuse_on_gke(reader, platform, "flower.enabled", flower.enabled, instead)
