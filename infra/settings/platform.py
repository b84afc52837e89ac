"""``platform`` and ``gke``: where the services run, Cloud Run (the default) or GKE.

``gke`` holds what only the Kubernetes target reads (docs/kubernetes.md): the cluster to create
(Autopilot) or the existing one to deploy into, the namespace, the workers' grace period and which
worker groups may run on spot capacity. The two timing relations are checked here, so a bad
stack fails before any resource is declared:

- a worker's ``terminationGracePeriodSeconds`` covers its soft shutdown (running tasks finish or
  are requeued) plus the time to requeue and close connections;
- a spot group's tasks fit the spot pre-emption notice: a task started just before the notice
  finishes (time limit + shutdown margin) within it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from task_contract.deployment import WORKER_SOFT_SHUTDOWN_SECONDS

from .reader import ConfigReader, key_list

Platform = Literal["cloudrun", "gke"]
PLATFORMS: tuple[Platform, ...] = ("cloudrun", "gke")

GKE_KEYS = frozenset(
    {
        "cluster",
        "existingCluster",
        "namespace",
        "kubernetesVersion",
        "workerGracePeriodSeconds",
        "spotWorkerGroups",
    }
)
CLUSTER_KEYS = frozenset({"releaseChannel", "maintenanceWindow", "masterCidr"})
WINDOW_KEYS = frozenset({"startTime", "endTime", "recurrence"})
EXISTING_KEYS = frozenset({"name", "location"})
RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE")

# Requeueing unacked messages, stopping the pool and closing connections after the soft
# shutdown: measured 0.5 s (threads) and 1.5 s (prefork) on 2 cores (services/worker/README.md).
SHUTDOWN_MARGIN_SECONDS = 4
MIN_WORKER_GRACE_SECONDS = int(WORKER_SOFT_SHUTDOWN_SECONDS) + SHUTDOWN_MARGIN_SECONDS
# GKE gives a pre-empted spot node's user pods this long before SIGKILL.
SPOT_NOTICE_SECONDS = 25
NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
K8S_VERSION_RE = re.compile(r"^1\.[0-9]{2}$")
TIME_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")
CIDR28_RE = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/28$")


@dataclass(frozen=True)
class MaintenanceRecurrence:
    start_time: str
    end_time: str
    recurrence: str


@dataclass(frozen=True)
class ClusterSettings:
    """A GKE Autopilot cluster this program creates."""

    release_channel: str
    maintenance: MaintenanceRecurrence
    master_cidr: str


@dataclass(frozen=True)
class ExistingCluster:
    name: str
    location: str


@dataclass(frozen=True)
class GkeSettings:
    cluster: ClusterSettings | None
    existing: ExistingCluster | None
    namespace: str
    kubernetes_version: str
    worker_grace_period_seconds: int
    spot_groups: frozenset[str]


def read_platform(reader: ConfigReader) -> Platform:
    return reader.choice("platform", reader.raw("platform"), "cloudrun", PLATFORMS)


def refuse_on_gke(reader: ConfigReader, platform: Platform, key: str, enabled: bool, instead: str) -> None:
    """A Cloud-Run-only feature switched on with ``platform: gke``: say what to use there instead."""
    if platform == "gke" and enabled:
        reader.fail(key, True, f"false with platform: gke ({instead})")


def read_gke(
    reader: ConfigReader,
    platform: Platform,
    worker_groups: tuple[str, ...],
    task_time_limit_seconds: int,
) -> GkeSettings | None:
    cfg = reader.section("gke", GKE_KEYS)
    if platform != "gke":
        if cfg:
            reader.fail("gke", cfg, "unset unless platform: gke (Cloud Run ignores it)")
        return None
    existing = _existing(reader, cfg.get("existingCluster"))
    if existing is not None and "cluster" in cfg:
        reader.fail(
            "gke.cluster",
            cfg["cluster"],
            "unset when gke.existingCluster is set (the program either creates a cluster or uses one)",
        )
    grace = reader.integer(
        "gke.workerGracePeriodSeconds",
        cfg.get("workerGracePeriodSeconds"),
        MIN_WORKER_GRACE_SECONDS,
        1,
        86400,
    )
    if grace < MIN_WORKER_GRACE_SECONDS:
        reader.fail(
            "gke.workerGracePeriodSeconds",
            grace,
            f"at least {MIN_WORKER_GRACE_SECONDS}: terminationGracePeriodSeconds >= the worker's "
            f"soft-shutdown timeout ({WORKER_SOFT_SHUTDOWN_SECONDS:g} s) + the shutdown margin "
            f"({SHUTDOWN_MARGIN_SECONDS} s), or Kubernetes kills a worker while it requeues tasks",
        )
    return GkeSettings(
        cluster=None if existing is not None else _cluster(reader, cfg.get("cluster")),
        existing=existing,
        namespace=reader.text(
            "gke.namespace", cfg.get("namespace"), "celery", NAMESPACE_RE, "a DNS label (a-z 0-9 -)"
        ),
        kubernetes_version=reader.text(
            "gke.kubernetesVersion",
            cfg.get("kubernetesVersion"),
            "1.33",
            K8S_VERSION_RE,
            "a minor version such as 1.33 (the schemas the manifests are validated against)",
        ),
        worker_grace_period_seconds=grace,
        spot_groups=_spot_groups(
            reader, cfg.get("spotWorkerGroups"), worker_groups, task_time_limit_seconds, grace
        ),
    )


def _cluster(reader: ConfigReader, raw: Any) -> ClusterSettings:
    cfg = reader.object("gke.cluster", CLUSTER_KEYS, raw)
    window = reader.object("gke.cluster.maintenanceWindow", WINDOW_KEYS, cfg.get("maintenanceWindow"))
    times = {}
    for field, default in (("startTime", "2026-01-01T03:00:00Z"), ("endTime", "2026-01-01T07:00:00Z")):
        times[field] = reader.text(
            f"gke.cluster.maintenanceWindow.{field}", window.get(field), default, TIME_RE,
            "an RFC 3339 UTC time such as 2026-01-01T03:00:00Z",
        )
    return ClusterSettings(
        release_channel=reader.choice(
            "gke.cluster.releaseChannel", cfg.get("releaseChannel"), "REGULAR", RELEASE_CHANNELS
        ),
        maintenance=MaintenanceRecurrence(
            start_time=times["startTime"],
            end_time=times["endTime"],
            recurrence=str(window.get("recurrence", "FREQ=WEEKLY;BYDAY=SA,SU")),
        ),
        master_cidr=reader.text(
            "gke.cluster.masterCidr", cfg.get("masterCidr"), "172.16.0.32/28", CIDR28_RE,
            "a /28 for the control plane's private endpoint, outside the VPC's ranges",
        ),
    )


def _existing(reader: ConfigReader, raw: Any) -> ExistingCluster | None:
    if raw is None:
        return None
    cfg = reader.object("gke.existingCluster", EXISTING_KEYS, raw)
    for key in sorted(EXISTING_KEYS - set(cfg)):
        reader.fail(f"gke.existingCluster.{key}", None, f"set: both of {key_list(EXISTING_KEYS)}")
    return ExistingCluster(name=str(cfg.get("name", "")), location=str(cfg.get("location", "")))


def _spot_groups(
    reader: ConfigReader, raw: Any, groups: tuple[str, ...], time_limit: int, grace: int
) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        reader.fail("gke.spotWorkerGroups", raw, "a list of worker group names")
        return frozenset()
    for name in raw:
        if name not in groups:
            reader.fail("gke.spotWorkerGroups", name, f"a worker group: {', '.join(groups)}")
    if raw and time_limit + SHUTDOWN_MARGIN_SECONDS > SPOT_NOTICE_SECONDS:
        reader.fail(
            "gke.spotWorkerGroups",
            raw,
            f"empty while tasks.timeLimitSeconds ({time_limit}) + the shutdown margin "
            f"({SHUTDOWN_MARGIN_SECONDS} s) exceeds the spot pre-emption notice "
            f"({SPOT_NOTICE_SECONDS} s): a task would be killed mid-run; lower the time limit "
            f"to {SPOT_NOTICE_SECONDS - SHUTDOWN_MARGIN_SECONDS} or run these groups on regular capacity",
        )
    if raw and grace > SPOT_NOTICE_SECONDS:
        reader.fail(
            "gke.workerGracePeriodSeconds",
            grace,
            f"at most {SPOT_NOTICE_SECONDS} with spot groups: terminationGracePeriodSeconds within "
            "the spot pre-emption notice",
        )
    return frozenset(str(n) for n in raw)
