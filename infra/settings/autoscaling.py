"""``autoscaler`` and the per-group ``autoscaling`` keys: queue-depth autoscaling (docs/scaling.md).

A group with ``autoscaling: queueDepth`` is a Cloud Run worker pool whose instance count the
autoscaler (CREMA) sets from its queue's work ledger. Its count must be exact, so it consumes
exactly one queue: CREMA takes the max over triggers, so two queues could not be added up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from .reader import ConfigReader

AutoscalingMode = Literal["queueDepth", "none"]
ScalingMode = Literal["MANUAL", "AUTOMATIC"]

AUTOSCALER_KEYS = frozenset(
    {
        "image",
        "pollingIntervalSeconds",
        "scaleDownStabilizationSeconds",
        "scaleDownPercent",
        "scaleDownPeriodSeconds",
    }
)
# CREMA's prebuilt image (its README, "Image Versioning"): 1.2 runs KEDA v2.20.
DEFAULT_AUTOSCALER_IMAGE = "us-central1-docker.pkg.dev/cloud-run-oss-images/crema-v1/autoscaler:1.2"
# A registry path with a version tag or a digest; never untagged or ``latest`` (docs/scaling.md).
PINNED_IMAGE_RE = re.compile(
    r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+"
    r"(:(?!latest$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class QueueDepthAutoscaling:
    """A group the autoscaler scales: tasks one instance should have waiting or running."""

    target_per_instance: int


@dataclass(frozen=True)
class AutoscalerSettings:
    image: str
    polling_interval_seconds: int
    scale_down_stabilization_seconds: int
    scale_down_percent: int
    scale_down_period_seconds: int


def read_group_autoscaling(
    reader: ConfigReader,
    key: str,
    cfg: dict[str, Any],
    kind: str,
    queues: tuple[str, ...],
    concurrency: int,
    min_instances: int,
) -> tuple[QueueDepthAutoscaling | None, ScalingMode]:
    """A group's autoscaling and its worker pool's scaling mode, checked against its kind and queues."""
    default_mode: AutoscalingMode = "queueDepth" if kind == "workerPool" else "none"
    mode: AutoscalingMode = reader.choice(
        f"{key}.autoscaling", cfg.get("autoscaling"), default_mode, ("queueDepth", "none")
    )
    scaling_mode: ScalingMode = reader.choice(
        f"{key}.scalingMode", cfg.get("scalingMode"), "MANUAL", ("MANUAL", "AUTOMATIC")
    )
    if kind != "workerPool" and "scalingMode" in cfg:
        reader.fail(
            f"{key}.scalingMode",
            cfg["scalingMode"],
            "only on a group with kind: workerPool (a service scales on requests and CPU)",
        )
    target = reader.integer(
        f"{key}.targetPerInstance", cfg.get("targetPerInstance"), concurrency, 1, 100000
    )
    if mode == "none":
        if "targetPerInstance" in cfg:
            reader.fail(
                f"{key}.targetPerInstance",
                cfg["targetPerInstance"],
                "only with autoscaling: queueDepth",
            )
        if min_instances < 1:
            reader.fail(
                f"{key}.minInstances",
                min_instances,
                "at least 1 without queue-depth autoscaling: a Celery worker consumes outside "
                "requests, so nothing would ever start it; set autoscaling: queueDepth "
                "(kind: workerPool) or minInstances: 1",
            )
        return None, scaling_mode
    if kind != "workerPool":
        reader.fail(
            f"{key}.autoscaling",
            mode,
            "none on a group with kind: service; queue-depth autoscaling sets a worker pool's "
            "instance count, so use kind: workerPool (with network.egress: direct)",
        )
    if scaling_mode != "MANUAL":
        reader.fail(
            f"{key}.scalingMode",
            scaling_mode,
            "MANUAL with autoscaling: queueDepth (the autoscaler writes the pool's manual "
            "instance count; Cloud Run's AUTOMATIC mode would fight it)",
        )
    if len(queues) != 1:
        reader.fail(
            f"{key}.queues",
            list(queues),
            "exactly one queue with autoscaling: queueDepth: the autoscaler takes the max over "
            "its triggers, so the backlog of several queues could not be counted exactly; "
            "split the group, one queue each, or set autoscaling: none",
        )
    return QueueDepthAutoscaling(target_per_instance=target), scaling_mode


def read_autoscaler(reader: ConfigReader) -> AutoscalerSettings:
    cfg = reader.section("autoscaler", AUTOSCALER_KEYS)
    image = reader.text(
        "autoscaler.image",
        cfg.get("image"),
        DEFAULT_AUTOSCALER_IMAGE,
        PINNED_IMAGE_RE,
        "an image pinned by version tag or @sha256 digest (never untagged or :latest), "
        f"e.g. {DEFAULT_AUTOSCALER_IMAGE}",
    )
    return AutoscalerSettings(
        image=image,
        polling_interval_seconds=reader.integer(
            "autoscaler.pollingIntervalSeconds", cfg.get("pollingIntervalSeconds"), 15, 5, 600
        ),
        scale_down_stabilization_seconds=reader.integer(
            "autoscaler.scaleDownStabilizationSeconds",
            cfg.get("scaleDownStabilizationSeconds"),
            120,
            0,
            3600,
        ),
        scale_down_percent=reader.integer(
            "autoscaler.scaleDownPercent", cfg.get("scaleDownPercent"), 50, 1, 100
        ),
        scale_down_period_seconds=reader.integer(
            "autoscaler.scaleDownPeriodSeconds", cfg.get("scaleDownPeriodSeconds"), 60, 1, 1800
        ),
    )
