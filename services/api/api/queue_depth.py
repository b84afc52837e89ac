"""Queue depth per queue, read from the broker at scrape time (a Prometheus custom collector).

kombu keeps each priority band of a queue in its own list (``priority_lists``); the depth
is the sum of all of them. Messages a worker has reserved but not acked are not in these
lists, so they are not counted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from api.priority_lists import priority_lists
from api.redis_clients import BROKER_ERRORS

log = logging.getLogger(__name__)


class QueueDepthCollector(Collector):
    """``cloudrun_celery_queue_depth{queue}`` and ``cloudrun_celery_broker_up``, one LLEN pipeline per scrape."""

    def __init__(
        self,
        client: redis.Redis,
        queues: Iterable[str],
    ) -> None:
        self.client = client
        self.lists = {queue: priority_lists(queue) for queue in queues}

    def depths(self) -> dict[str, int]:
        pipe = self.client.pipeline(transaction=False)
        for names in self.lists.values():
            for name in names:
                pipe.llen(name)
        lengths = iter(pipe.execute())
        return {queue: sum(next(lengths) for _ in names) for queue, names in self.lists.items()}

    def describe(self) -> Iterable[GaugeMetricFamily]:
        # Lets the registry check names without a Redis round trip at registration.
        return self._families()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        depth, up = self._families()
        try:
            depths = self.depths()
        except BROKER_ERRORS as exc:
            log.warning("queue depth unavailable: %s: %s", type(exc).__name__, exc)
            up.add_metric([], 0)
            return [up]
        for queue, value in depths.items():
            depth.add_metric([queue], value)
        up.add_metric([], 1)
        return [depth, up]

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "cloudrun_celery_queue_depth",
            "Messages waiting in the queue (all kombu priority lists), excluding reserved and unacked ones.",
            labels=["queue"],
        )
        up = GaugeMetricFamily(
            "cloudrun_celery_broker_up", "1 if the last scrape read the queue depths from Redis, else 0."
        )
        return depth, up
