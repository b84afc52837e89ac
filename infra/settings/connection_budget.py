"""The Redis connection budget: every workload at its maximum instance count against the broker's client limit.

More processes and threads mean more connections, and Memorystore refuses clients past its
limit (docs/connection-budget.md has the table and its source). The per-process figures are the
services' own caps, or what a real beat and a real Flower were measured to open
(task_contract.connection_budget), counted for real by tests/broker/test_connection_budget.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from task_contract import connection_budget as per_process

from .beat import BeatSettings
from .flower import FlowerSettings
from .reader import ConfigReader
from .redis import RedisSettings
from .services import ApiSettings
from .workers import WorkerGroupSettings

# Memorystore for Redis: connected clients per instance, Basic and Standard tier alike.
MEMORYSTORE_CLIENTS = 65_000
# With in-transit encryption on Redis 6.x (and earlier), by capacity tier: (largest GB, limit).
MEMORYSTORE_TLS_6X_CLIENTS: tuple[tuple[int, int], ...] = (
    (4, 1_000),  # M1, 1-4 GB
    (10, 2_500),  # M2, 5-10 GB
    (35, 15_000),  # M3, 11-35 GB
    (100, 30_000),  # M4, 36-100 GB
    (300, 65_000),  # M5, 101+ GB
)


def client_limit(redis: RedisSettings) -> int:
    """The broker's documented client limit for its version, size and TLS setting."""
    if redis.transit_encryption and redis.version == "REDIS_6_X":
        return next(limit for largest, limit in MEMORYSTORE_TLS_6X_CLIENTS if redis.memory_size_gb <= largest)
    return MEMORYSTORE_CLIENTS


@dataclass(frozen=True)
class Share:
    """One workload's worst case: instances x processes x connections per process."""

    what: str
    instances: int
    processes: int
    per_process: int

    @property
    def total(self) -> int:
        return self.instances * self.processes * self.per_process

    def __str__(self) -> str:
        return f"{self.what} {self.instances} x {self.processes} x {self.per_process} = {self.total:,}"


def shares(
    api: ApiSettings,
    workers: Sequence[WorkerGroupSettings],
    flower: FlowerSettings,
    beat: BeatSettings,
) -> list[Share]:
    """Every workload's worst case, at its maximum instance count."""
    result = [
        Share(
            "api (maxInstances x processes x REDIS_MAX_CONNECTIONS+2)",
            api.max_instances,
            api.web_concurrency,
            per_process.api_process(api.redis_max_connections),
        )
    ]
    for group in workers:
        result.append(
            Share(
                f"workers {group.name} (maxInstances x processes x (2 x concurrency+14))",
                group.max_instances,
                group.processes,
                per_process.worker_process(group.concurrency),
            )
        )
    autoscaled = sum(1 for group in workers if group.autoscaling is not None)
    if autoscaled:
        result.append(Share("autoscaler (1 x groups x 10)", 1, autoscaled, per_process.AUTOSCALER_PER_GROUP))
    if flower.enabled:
        result.append(Share("flower (1 instance, 2 + 8 inspect calls x 4)", 1, 1, per_process.FLOWER_INSTANCE))
    if beat.enabled:
        # The beat pool runs exactly one instance (infra/cloudrun/beat_pool.py).
        result.append(Share("beat (1 instance, the lock holder)", 1, 1, per_process.BEAT_INSTANCE))
    return result


def check_connection_budget(
    reader: ConfigReader,
    redis: RedisSettings,
    api: ApiSettings,
    workers: Sequence[WorkerGroupSettings],
    flower: FlowerSettings,
    beat: BeatSettings,
) -> int:
    """Fails the config when the worst case exceeds the broker's client limit; returns the worst case."""
    parts = shares(api, workers, flower, beat)
    total = sum(part.total for part in parts)
    limit = client_limit(redis)
    if total > limit:
        tls_6x = redis.transit_encryption and redis.version == "REDIS_6_X"
        fix = (
            "lower api.maxInstances or api.concurrency, or a worker group's maxInstances, processes "
            "or concurrency"
            + (
                "; or raise redis.memorySizeGb, or use redis.version REDIS_7_2 (65,000 clients with TLS)"
                if tls_6x
                else ""
            )
        )
        reader.fail(
            "redis",
            f"{redis.version}, {redis.memory_size_gb} GB, TLS {'on' if redis.transit_encryption else 'off'}",
            f"a broker whose client limit ({limit:,}, docs/connection-budget.md) covers the worst case "
            f"of {total:,} connections: {'; '.join(map(str, parts))}. Fix: {fix}",
        )
    return total
