"""Broker gauges read from Redis at scrape time: queue depth, oldest waiting message, broker up.

Both the API and every worker export these (docs/metrics.md). The workers are the always-on
exporters: a worker group runs at least one instance with CPU always allocated, so the series
exist while the request-billed API sits at zero instances. Every exporter reads the same Redis,
so dashboards and alerts aggregate them with ``max``, never ``sum``.

kombu's Redis transport LPUSHes a message onto one list per priority step and BRPOPs from the
right, so the element at index -1 of each list is the oldest one waiting there. Redis keeps no
enqueue time, so the age is measured here: how long the same message has stayed at the tail,
across scrapes. It starts at 0 when an exporter starts (an under-estimate by up to the time the
message had already waited); the longest-lived exporter's value, the ``max``, is the best one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Errors that mean "Redis is unreachable or misbehaving"; the scrape then reports broker_up 0.
SCRAPE_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


class BrokerCollector(Collector):
    """``cloudrun_celery_queue_depth``, ``..._queue_oldest_message_age_seconds`` and ``..._broker_up``.

    ``queue_lists`` maps each queue to every Redis list that holds its messages (one per kombu
    priority step). One pipeline per scrape: an LLEN and an LINDEX -1 per list.
    """

    def __init__(
        self,
        client: redis.Redis,
        queue_lists: Mapping[str, Sequence[str]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.lists = {queue: tuple(names) for queue, names in queue_lists.items()}
        self.clock = clock
        # Per list: (digest of the tail message, when it was first seen there).
        self._tails: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    def read(self) -> tuple[dict[str, int], dict[str, float]]:
        """Depth and oldest-message age per queue. Raises one of ``SCRAPE_ERRORS``."""
        pipe = self.client.pipeline(transaction=False)
        for names in self.lists.values():
            for name in names:
                pipe.llen(name)
                pipe.lindex(name, -1)
        replies = iter(pipe.execute())
        now = self.clock()
        depths: dict[str, int] = {}
        ages: dict[str, float] = {}
        with self._lock:
            for queue, names in self.lists.items():
                depths[queue], ages[queue] = 0, 0.0
                for name in names:
                    length, tail = int(next(replies)), next(replies)
                    depths[queue] += length
                    ages[queue] = max(ages[queue], self._tail_age(name, tail if length else None, now))
        return depths, ages

    def _tail_age(self, name: str, tail: bytes | str | None, now: float) -> float:
        if tail is None:
            self._tails.pop(name, None)
            return 0.0
        raw = tail.encode() if isinstance(tail, str) else tail
        digest = hashlib.blake2b(raw, digest_size=16).digest()
        seen = self._tails.get(name)
        if seen is None or seen[0] != digest:
            self._tails[name] = (digest, now)
            return 0.0
        return now - seen[1]

    def describe(self) -> Iterable[GaugeMetricFamily]:
        # Lets a registry check names without a Redis round trip at registration.
        return self._families()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        depth, age, up = self._families()
        try:
            depths, ages = self.read()
        except SCRAPE_ERRORS as exc:
            log.warning("broker metrics unavailable: %s: %s", type(exc).__name__, exc)
            up.add_metric([], 0)
            return [up]
        for queue in self.lists:
            depth.add_metric([queue], depths[queue])
            age.add_metric([queue], round(ages[queue], 3))
        up.add_metric([], 1)
        return [depth, age, up]

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "cloudrun_celery_queue_depth",
                "Messages waiting in the queue (all kombu priority lists), excluding reserved and unacked ones.",
                labels=["queue"],
            ),
            GaugeMetricFamily(
                "cloudrun_celery_queue_oldest_message_age_seconds",
                "How long the oldest waiting message has been at the head of its list, as seen by this exporter.",
                labels=["queue"],
            ),
            GaugeMetricFamily(
                "cloudrun_celery_broker_up", "1 if the last scrape read the queues from Redis, else 0."
            ),
        )


class DeadLettersCollector(Collector):
    """``cloudrun_celery_dead_letters``: tasks kept as failed for good (the index of task_contract.dead_letters).

    It lives in the result backend's Redis. No sample when that Redis does not answer:
    ``broker_up`` already says so, and a 0 would read as "no dead letters".
    """

    def __init__(self, client: redis.Redis, index_key: str) -> None:
        self.client = client
        self.index_key = index_key

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [self._family()]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = self._family()
        try:
            family.add_metric([], int(self.client.zcard(self.index_key)))
        except SCRAPE_ERRORS as exc:
            log.warning("dead letters count unavailable: %s: %s", type(exc).__name__, exc)
            return []
        return [family]

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "cloudrun_celery_dead_letters", "Tasks that failed for good and are kept to inspect and replay."
        )
