"""``workers``: the Celery worker groups, each a Cloud Run service or worker pool.

Every key does something or is refused with the reason: a worker pool serves no requests, so
the request knobs are refused for pools; its ``maxInstances`` is the autoscaler's maximum
(``autoscaling: queueDepth``), and refused without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from task_contract.deployment import WORKER_POOLS
from task_contract.queues import QUEUES

from .autoscaling import QueueDepthAutoscaling, ScalingMode, read_group_autoscaling
from .external_call import read_allowed_hosts, read_allowed_networks
from .network import Egress
from .reader import ConfigReader
from .services import ContainerSize, container_size, min_max

WorkerKind = Literal["service", "workerPool"]

WORKER_KEYS = frozenset(
    {
        "name",
        "queues",
        "kind",
        "cpu",
        "memory",
        "minInstances",
        "maxInstances",
        "concurrency",
        "pool",
        "requestConcurrency",
        "requestTimeoutSeconds",
        # settings.autoscaling reads these three.
        "autoscaling",
        "targetPerInstance",
        "scalingMode",
        "processes",
        "externalCallAllowedHosts",
        "externalCallAllowedNetworks",
    }
)
# Keys a worker pool has no use for, and why (the message a user gets).
NOT_FOR_POOLS = {
    "requestConcurrency": "a worker pool serves no requests (no URL, no port). Remove it",
    "requestTimeoutSeconds": "a worker pool serves no requests (no URL, no port). Remove it",
}
WORKER_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")

DEFAULT_WORKERS: list[dict[str, Any]] = [
    {"name": "fast", "queues": ["high", "default"]},
    {"name": "bulk", "queues": ["low"]},
]


@dataclass(frozen=True)
class WorkerGroupSettings:
    name: str
    queues: tuple[str, ...]
    kind: WorkerKind
    size: ContainerSize
    min_instances: int
    max_instances: int
    # Pool slots per process (WORKER_CONCURRENCY: threads, or prefork children).
    concurrency: int
    pool: str
    # Consumer processes per instance (WORKER_PROCESSES): concurrency x processes slots in all.
    processes: int
    # A worker service's own HTTP requests are its probes (/healthz); these size that path.
    request_concurrency: int
    request_timeout_seconds: int
    # Set when the autoscaler (CREMA) scales this group on its queue's work ledger.
    autoscaling: QueueDepthAutoscaling | None = None
    scaling_mode: ScalingMode = "MANUAL"
    # Where external_call may connect (EXTERNAL_CALL_ALLOWED_HOSTS / _NETWORKS); empty: nowhere.
    external_call_hosts: tuple[str, ...] = ()
    external_call_networks: tuple[str, ...] = ()

    @property
    def slots(self) -> int:
        """Tasks one instance runs at once."""
        return self.concurrency * self.processes


def read_workers(
    reader: ConfigReader, egress: Egress
) -> tuple[WorkerGroupSettings, ...]:
    raw = reader.json_value("workers")
    if raw is None:
        raw = DEFAULT_WORKERS
    if not isinstance(raw, list) or not raw:
        reader.fail(
            "workers", raw, "a non-empty list of worker groups ({name, queues, ...})"
        )
        return ()
    groups: list[WorkerGroupSettings] = []
    seen_names: set[str] = set()
    seen_queues: dict[str, str] = {}
    for index, item in enumerate(raw):
        key = f"workers[{index}]"
        cfg = reader.object(key, WORKER_KEYS, item)
        if not cfg:
            if item is not None and isinstance(item, dict):
                reader.fail(key, item, "an object with at least name and queues")
            continue
        name = _name(reader, key, cfg, seen_names)
        queues = _queues(reader, key, cfg.get("queues"), name, seen_queues)
        groups.append(_group(reader, key, cfg, name, queues, egress))
    for queue in QUEUES:
        if queue not in seen_queues and groups:
            reader.fail(
                "workers",
                f"no group consumes {queue!r}",
                f"every queue of the task catalog ({', '.join(QUEUES)}) in exactly one "
                f"group's queues; add {queue!r} to one (tasks routed there would wait forever)",
            )
    return tuple(groups)


def check_queue_gauges_exported(reader: ConfigReader, workers: tuple[WorkerGroupSettings, ...]) -> None:
    if workers and all(w.min_instances == 0 for w in workers):
        # Workers export the queue gauges (docs/metrics.md); the API is request-billed and may be at zero.
        reader.fail(
            "workers[].minInstances",
            [w.min_instances for w in workers],
            "at least 1 on one worker group: a running worker exports every queue's depth, and with "
            "every group at zero no series exists (QueueMetricsAbsent would page, the backlog alerts go blind)",
        )


def _name(
    reader: ConfigReader, key: str, cfg: dict[str, Any], seen_names: set[str]
) -> str:
    allowed = "1-10 chars of a-z 0-9, starting with a letter"
    name = reader.text(f"{key}.name", cfg.get("name"), "", WORKER_NAME_RE, allowed)
    if "name" not in cfg:
        reader.fail(f"{key}.name", None, allowed)
    if name == "api":
        reader.fail(
            f"{key}.name",
            name,
            "a name other than 'api' (appSecrets consumers use it for the API service)",
        )
    if name and name in seen_names:
        reader.fail(f"{key}.name", name, "a name no other worker group uses")
    seen_names.add(name)
    return name


def _group(
    reader: ConfigReader,
    key: str,
    cfg: dict[str, Any],
    name: str,
    queues: tuple[str, ...],
    egress: Egress,
) -> WorkerGroupSettings:
    kind: WorkerKind = reader.choice(
        f"{key}.kind", cfg.get("kind"), "service", ("service", "workerPool")
    )
    if kind == "workerPool":
        if egress != "direct":
            reader.fail(
                f"{key}.kind",
                kind,
                "service, or workerPool together with network.egress: direct "
                "(worker pools cannot use a VPC connector)",
            )
        for unused, reason in NOT_FOR_POOLS.items():
            if unused in cfg:
                reader.fail(f"{key}.{unused}", cfg[unused], f"unset: {reason}")
    # 0 only with queue-depth autoscaling (read_group_autoscaling): otherwise nothing starts it.
    min_instances = reader.integer(
        f"{key}.minInstances", cfg.get("minInstances"), 1, 0, 1000
    )
    concurrency = reader.integer(
        f"{key}.concurrency", cfg.get("concurrency"), 50, 1, 1000
    )
    size = container_size(
        reader, key, cfg.get("cpu"), cfg.get("memory"), ContainerSize("1", "1Gi")
    )
    pool = reader.choice(f"{key}.pool", cfg.get("pool"), "threads", WORKER_POOLS)
    # Threads: one consumer process per vCPU (one GIL each); prefork forks its children itself.
    processes = reader.integer(
        f"{key}.processes", cfg.get("processes"), int(size.cpu) if pool == "threads" else 1, 1, 16
    )
    autoscaling, scaling_mode = read_group_autoscaling(
        reader, key, cfg, kind, queues, concurrency * processes, min_instances
    )
    if kind == "workerPool" and autoscaling is None:
        if "maxInstances" in cfg:
            reader.fail(
                f"{key}.maxInstances",
                cfg["maxInstances"],
                "unset: a worker pool without autoscaling runs minInstances instances; "
                "maxInstances is the autoscaler's maximum with autoscaling: queueDepth",
            )
        max_instances = min_instances
    else:
        # With queue-depth autoscaling: the most instances the autoscaler may run.
        max_instances = reader.integer(
            f"{key}.maxInstances", cfg.get("maxInstances"), 3, 1, 1000
        )
        min_max(reader, key, min_instances, max_instances)
    return WorkerGroupSettings(
        name=name,
        queues=queues,
        kind=kind,
        size=size,
        min_instances=min_instances,
        max_instances=max_instances,
        concurrency=concurrency,
        pool=pool,
        processes=processes,
        request_concurrency=reader.integer(
            f"{key}.requestConcurrency", cfg.get("requestConcurrency"), 10, 1, 1000
        ),
        request_timeout_seconds=reader.integer(
            f"{key}.requestTimeoutSeconds", cfg.get("requestTimeoutSeconds"), 30, 1, 3600
        ),
        autoscaling=autoscaling,
        scaling_mode=scaling_mode,
        external_call_hosts=read_allowed_hosts(
            reader, f"{key}.externalCallAllowedHosts", cfg.get("externalCallAllowedHosts")
        ),
        external_call_networks=read_allowed_networks(
            reader, f"{key}.externalCallAllowedNetworks", cfg.get("externalCallAllowedNetworks")
        ),
    )


def _queues(
    reader: ConfigReader,
    key: str,
    queues_raw: Any,
    group: str,
    seen_queues: dict[str, str],
) -> tuple[str, ...]:
    if isinstance(queues_raw, str):
        queues_raw = [q.strip() for q in queues_raw.split(",")]
    queues: list[str] = []
    if not isinstance(queues_raw, list) or not queues_raw:
        reader.fail(f"{key}.queues", queues_raw, "a non-empty list of queue names")
        return ()
    for queue in queues_raw:
        if queue not in QUEUES:
            # The worker refuses a queue outside the catalog and exits: Cloud Run would crash-loop it.
            reader.fail(
                f"{key}.queues",
                queue,
                f"queues of the task catalog: {', '.join(QUEUES)} (services/shared/task_contract)",
            )
        elif queue in seen_queues:
            reader.fail(
                f"{key}.queues",
                queue,
                f"a queue not already consumed by worker group {seen_queues[queue]!r}",
            )
        else:
            seen_queues[queue] = group
            queues.append(queue)
    return tuple(queues)
