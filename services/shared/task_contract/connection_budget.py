"""How many Redis connections one process of each workload may hold at most (docs/connection-budget.md).

The stack config multiplies these by processes and instances and checks the sum against the
broker's client limit (infra/settings/connection_budget.py). Each figure follows from a cap the
services configure; ``tests/broker/test_connection_budget.py`` counts the connections of a real
API and real workers with ``CLIENT LIST`` at full concurrency and checks they stay within them.

No dependencies: the Pulumi program imports this.
"""

from __future__ import annotations

from typing import Final

# Connections a worker process opens whatever its pool: the consumer's BRPOP connection, the
# remote-control (pidbox) subscription, the result backend's pub/sub connection and the one
# the consumer acks on (measured idle: 4).
WORKER_FIXED: Final = 4
# kombu's channel pool (broker_transport_options max_connections in worker/config.py) is
# concurrency + this: every pool slot may ack or publish at once.
WORKER_BROKER_POOL_HEADROOM: Final = 10
# The API's blocking client (queue depth for /metrics and /readyz, called from a thread or two).
API_SYNC_CLIENT: Final = 2
# Flower (one instance): Celery's broker pool (broker_pool_limit, default 10), its event
# receiver and the result backend's connection. A bound from Celery's defaults, not counted.
FLOWER_INSTANCE: Final = 12
# The autoscaler (CREMA, KEDA's Redis scalers): go-redis's default pool of 10 connections per
# CPU on its 1-vCPU instance, for each group it scales. A bound from go-redis's default.
AUTOSCALER_PER_GROUP: Final = 10


def api_process(redis_max_connections: int) -> int:
    """One serving process: its blocking pool (``REDIS_MAX_CONNECTIONS``) plus the blocking client."""
    return redis_max_connections + API_SYNC_CLIENT


def worker_process(concurrency: int) -> int:
    """One ``celery worker`` process with ``concurrency`` slots (threads, or prefork children).

    Each slot may hold a result-backend connection while it stores a state (threads share the
    process's pool; a prefork child has its own) and the broker pool is capped at concurrency +
    headroom, so the worst case is 2 x concurrency + headroom + the fixed connections.
    """
    return 2 * concurrency + WORKER_BROKER_POOL_HEADROOM + WORKER_FIXED
