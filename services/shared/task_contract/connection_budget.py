"""How many Redis connections one process of each workload may hold at most (docs/connection-budget.md).

The stack config multiplies these by processes and instances and checks the sum against the
broker's client limit (infra/settings/connection_budget.py). Each figure follows from a cap the
services configure or from what a real process was measured to open:
``tests/broker/test_connection_budget.py`` counts the connections of a real API, real workers,
a real beat and a real Flower with ``CLIENT LIST`` at full load and checks they stay within them.

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
# Flower (one instance, ``celery -A worker.app flower``). Fixed: its event receiver's
# subscription and the channel it opened it on. Then each remote-control call its inspector
# runs (stats, active_queues, ... when a page asks for fresh worker state) holds 4 while it
# waits for replies: the broadcast, its reply queue's BRPOP, its channel's client and the
# restore on close (measured: 1, 2 and 4 concurrent calls peaked at 4, 8 and 16). Flower runs
# at most 8 at once (flower.inspector.Inspector.max_concurrency, one per inspect method).
FLOWER_FIXED: Final = 2
FLOWER_PER_INSPECT: Final = 4
FLOWER_INSPECT_CONCURRENCY: Final = 8
FLOWER_INSTANCE: Final = FLOWER_FIXED + FLOWER_INSPECT_CONCURRENCY * FLOWER_PER_INSPECT
# Beat (``python -m worker.beat``, one per instance): the lock holder's health ping client,
# celery-redbeat's client (lock and schedule), the broker connection and its producer channel,
# and the result backend's pub/sub subscription. Beat's loop is one thread, so each pool holds
# one connection. A standby (waiting for the lock) holds 2: the ping and the lock attempts.
BEAT_INSTANCE: Final = 5
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
