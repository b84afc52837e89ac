"""``api``, ``workers`` and ``tasks``: the Cloud Run workloads and the task limits they share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from .network import Egress
from .reader import ConfigReader

WorkerKind = Literal["service", "workerPool"]

API_SERVICE_KEYS = frozenset(
    {
        "public",
        "cpu",
        "memory",
        "minInstances",
        "maxInstances",
        "concurrency",
        "timeoutSeconds",
        "idempotencyWindowSeconds",
    }
)
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
    }
)
TASKS_KEYS = frozenset({"timeLimitSeconds", "resultTtlSeconds"})

# Cloud Run CPU -> (min, max) memory in MiB. Min is 512 MiB throughout: the second-generation
# execution environment (always used by worker pools) and CPU-always-allocated both need it.
# https://cloud.google.com/run/docs/configuring/services/memory-limits
CPU_MEMORY_MIB: dict[str, tuple[int, int]] = {
    "1": (512, 4096),
    "2": (512, 8192),
    "4": (2048, 16384),
    "6": (4096, 24576),
    "8": (4096, 32768),
}
# The pools the worker image accepts (services/worker/worker/config.py): only those whose SIGTERM
# path is tested. Anything else would pass preview and crash-loop on Cloud Run.
WORKER_POOLS = ("threads", "prefork")
MEMORY_RE = re.compile(r"^([1-9][0-9]*)(Mi|Gi)$")
WORKER_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
QUEUE_NAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")

DEFAULT_WORKERS: list[dict[str, Any]] = [
    {"name": "fast", "queues": ["high", "default"]},
    {"name": "bulk", "queues": ["low"]},
]


@dataclass(frozen=True)
class ContainerSize:
    cpu: str
    memory: str


@dataclass(frozen=True)
class ApiSettings:
    public: bool
    size: ContainerSize
    min_instances: int
    max_instances: int
    concurrency: int
    timeout_seconds: int
    # How long an Idempotency-Key (and a scheduler tick's key) is remembered: IDEMPOTENCY_WINDOW_SECONDS.
    idempotency_window_seconds: int


@dataclass(frozen=True)
class WorkerGroupSettings:
    name: str
    queues: tuple[str, ...]
    kind: WorkerKind
    size: ContainerSize
    min_instances: int
    max_instances: int
    concurrency: int
    pool: str


@dataclass(frozen=True)
class TaskSettings:
    time_limit_seconds: int
    result_ttl_seconds: int


def memory_mib(memory: str) -> int:
    match = MEMORY_RE.fullmatch(memory)
    if match is None:
        raise ValueError(memory)
    amount, unit = int(match.group(1)), match.group(2)
    return amount * 1024 if unit == "Gi" else amount


def _container_size(
    reader: ConfigReader, key: str, cpu: Any, memory: Any, default: ContainerSize
) -> ContainerSize:
    cpu_text = (
        default.cpu if cpu is None else str(cpu) if isinstance(cpu, (int, str)) else cpu
    )
    if cpu_text not in CPU_MEMORY_MIB:
        reader.fail(f"{key}.cpu", cpu, " | ".join(CPU_MEMORY_MIB))
        return default
    memory_text = default.memory if memory is None else memory
    if not isinstance(memory_text, str) or not MEMORY_RE.fullmatch(memory_text):
        reader.fail(f"{key}.memory", memory, "a size like 512Mi or 2Gi")
        return default
    low, high = CPU_MEMORY_MIB[cpu_text]
    if not low <= memory_mib(memory_text) <= high:
        reader.fail(
            f"{key}.memory",
            memory_text,
            f"{low}Mi to {high // 1024}Gi with cpu {cpu_text} (Cloud Run CPU/memory limits)",
        )
        return default
    return ContainerSize(cpu=cpu_text, memory=memory_text)


def _min_max(reader: ConfigReader, key: str, minimum: int, maximum: int) -> None:
    if minimum > maximum:
        reader.fail(
            f"{key}.minInstances",
            minimum,
            f"at most {key}.maxInstances ({maximum})",
        )


def read_api(reader: ConfigReader) -> ApiSettings:
    cfg = reader.section("api", API_SERVICE_KEYS)
    min_instances = reader.integer(
        "api.minInstances", cfg.get("minInstances"), 0, 0, 1000
    )
    max_instances = reader.integer(
        "api.maxInstances", cfg.get("maxInstances"), 10, 1, 1000
    )
    _min_max(reader, "api", min_instances, max_instances)
    return ApiSettings(
        public=reader.boolean("api.public", cfg.get("public"), False),
        size=_container_size(
            reader, "api", cfg.get("cpu"), cfg.get("memory"), ContainerSize("1", "512Mi")
        ),
        min_instances=min_instances,
        max_instances=max_instances,
        concurrency=reader.integer(
            "api.concurrency", cfg.get("concurrency"), 80, 1, 1000
        ),
        timeout_seconds=reader.integer(
            "api.timeoutSeconds", cfg.get("timeoutSeconds"), 60, 1, 3600
        ),
        idempotency_window_seconds=reader.integer(
            "api.idempotencyWindowSeconds",
            cfg.get("idempotencyWindowSeconds"),
            86_400,
            60,
            30 * 86_400,
        ),
    )


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
        name = reader.text(
            f"{key}.name",
            cfg.get("name"),
            "",
            WORKER_NAME_RE,
            "1-10 chars of a-z 0-9, starting with a letter",
        )
        if "name" not in cfg:
            reader.fail(
                f"{key}.name", None, "1-10 chars of a-z 0-9, starting with a letter"
            )
        if name and name in seen_names:
            reader.fail(f"{key}.name", name, "a name no other worker group uses")
        seen_names.add(name)
        queues = _queues(reader, key, cfg.get("queues"), name, seen_queues)
        kind: WorkerKind = reader.choice(
            f"{key}.kind", cfg.get("kind"), "service", ("service", "workerPool")
        )
        if kind == "workerPool" and egress != "direct":
            reader.fail(
                f"{key}.kind",
                kind,
                "service, or workerPool together with network.egress: direct "
                "(worker pools cannot use a VPC connector)",
            )
        # A Celery worker consumes outside requests: with fewer than one instance it never runs.
        min_instances = reader.integer(
            f"{key}.minInstances", cfg.get("minInstances"), 1, 1, 1000
        )
        max_instances = reader.integer(
            f"{key}.maxInstances", cfg.get("maxInstances"), 3, 1, 1000
        )
        _min_max(reader, key, min_instances, max_instances)
        groups.append(
            WorkerGroupSettings(
                name=name,
                queues=queues,
                kind=kind,
                size=_container_size(
                    reader,
                    key,
                    cfg.get("cpu"),
                    cfg.get("memory"),
                    ContainerSize("1", "1Gi"),
                ),
                min_instances=min_instances,
                max_instances=max_instances,
                concurrency=reader.integer(
                    f"{key}.concurrency", cfg.get("concurrency"), 50, 1, 1000
                ),
                pool=reader.choice(
                    f"{key}.pool", cfg.get("pool"), "threads", WORKER_POOLS
                ),
            )
        )
    return tuple(groups)


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
        if not isinstance(queue, str) or not QUEUE_NAME_RE.fullmatch(queue):
            reader.fail(f"{key}.queues", queue, "queue names of a-z 0-9 _ . -")
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


def read_tasks(reader: ConfigReader) -> TaskSettings:
    cfg = reader.section("tasks", TASKS_KEYS)
    return TaskSettings(
        time_limit_seconds=reader.integer(
            "tasks.timeLimitSeconds", cfg.get("timeLimitSeconds"), 600, 1, 86400
        ),
        result_ttl_seconds=reader.integer(
            "tasks.resultTtlSeconds",
            cfg.get("resultTtlSeconds"),
            86400,
            60,
            2592000,
        ),
    )
