"""``api`` and ``tasks``, and what every Cloud Run workload's size and scaling obey (``workers``
are in ``workers.py``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from task_contract.queues import QUEUES

from .reader import ConfigReader
from .rollout import ApiRolloutSettings, read_api_rollout

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
        "rollout",
        "maxQueueLength",
        "maxQueueLengths",
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
MEMORY_RE = re.compile(r"^([1-9][0-9]*)(Mi|Gi)$")
# Connections the API may hold to Redis beyond one per concurrent request (the periodic
# clean-ups, a /readyz next to a full pool): REDIS_MAX_CONNECTIONS = api.concurrency + this.
REDIS_CONNECTIONS_HEADROOM = 20


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
    rollout: ApiRolloutSettings
    # How long an Idempotency-Key (and a scheduler tick's key) is remembered: IDEMPOTENCY_WINDOW_SECONDS.
    idempotency_window_seconds: int
    # Back-pressure (429): MAX_QUEUE_LENGTH for every queue (0: none), MAX_QUEUE_LENGTHS per queue.
    max_queue_length: int = 100_000
    max_queue_lengths: tuple[tuple[str, int], ...] = ()

    @property
    def web_concurrency(self) -> int:
        """Serving processes (WEB_CONCURRENCY): one per vCPU of the CPU limit."""
        return int(self.size.cpu)

    @property
    def redis_max_connections(self) -> int:
        """Each serving process's Redis pool (REDIS_MAX_CONNECTIONS): above Cloud Run's concurrency."""
        return self.concurrency + REDIS_CONNECTIONS_HEADROOM


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


def container_size(
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


def min_max(reader: ConfigReader, key: str, minimum: int, maximum: int) -> None:
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
    min_max(reader, "api", min_instances, max_instances)
    return ApiSettings(
        public=reader.boolean("api.public", cfg.get("public"), False),
        size=container_size(
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
        rollout=read_api_rollout(reader, cfg.get("rollout")),
        idempotency_window_seconds=reader.integer(
            "api.idempotencyWindowSeconds",
            cfg.get("idempotencyWindowSeconds"),
            86_400,
            60,
            30 * 86_400,
        ),
        max_queue_length=reader.integer(
            "api.maxQueueLength", cfg.get("maxQueueLength"), 100_000, 0, 100_000_000
        ),
        max_queue_lengths=_queue_lengths(reader, cfg.get("maxQueueLengths")),
    )


def _queue_lengths(reader: ConfigReader, value: Any) -> tuple[tuple[str, int], ...]:
    """``api.maxQueueLengths``: ``{queue: length}`` overrides of ``maxQueueLength`` (MAX_QUEUE_LENGTHS)."""
    if value is None:
        return ()
    allowed = f"an object of queue -> length (0 = none), queues of the task catalog: {', '.join(QUEUES)}"
    if not isinstance(value, dict):
        reader.fail("api.maxQueueLengths", value, allowed)
        return ()
    lengths: list[tuple[str, int]] = []
    for queue, length in value.items():
        if queue not in QUEUES:
            reader.fail(f"api.maxQueueLengths.{queue}", length, allowed)
            continue
        lengths.append(
            (queue, reader.integer(f"api.maxQueueLengths.{queue}", length, 0, 0, 100_000_000))
        )
    return tuple(lengths)


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
