"""The API's connections to Redis: a publish-only Celery app and plain Redis clients.

Every call that touches the network goes through :meth:`Broker.run`, which runs it in a
worker thread (never on the event loop) under a hard deadline, so a Redis that is down or
hung turns into :class:`BrokerUnavailable` (HTTP 503) in about a second, never a hang.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import redis
from celery import Celery
from kombu.exceptions import KombuError
from redis.backoff import NoBackoff
from redis.retry import Retry
from task_contract import BrokerSettings, celery_connection_config
from task_contract.connection import redact

log = logging.getLogger(__name__)

T = TypeVar("T")

# Errors that mean "Redis is unreachable or misbehaving", as opposed to a bug in this code.
BROKER_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, KombuError, OSError)


class BrokerUnavailable(Exception):
    """Redis did not answer in time or refused the command; the client should retry later."""


def redis_client(url: str, settings: BrokerSettings) -> redis.Redis:
    """A client that fails fast: ~1 s timeouts and one immediate retry.

    The single retry reconnects a pooled socket that went stale when Redis restarted;
    a Redis that is really down fails both attempts at once (connection refused).
    """
    timeout = settings.redis_connect_timeout_seconds
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 1),
        "health_check_interval": 30,
    }
    if url.startswith("rediss://") and settings.redis_ca_file is not None:
        options["ssl_ca_certs"] = str(settings.redis_ca_file)
    return redis.Redis.from_url(url, **options)


def publisher_app(settings: BrokerSettings) -> Celery:
    """A Celery app that only publishes: tasks are sent by name, the worker's code is never imported.

    It has no result backend: ``send_task`` would otherwise SUBSCRIBE to every task's
    result channel, a connection and a subscription per submission that the API never
    reads (it polls results from Redis instead, see ``task_status``).
    """
    config = celery_connection_config(settings)
    timeout = settings.redis_connect_timeout_seconds
    config["broker_transport_options"] = {
        **config["broker_transport_options"],
        # A publish that gets no answer fails instead of blocking the thread.
        "socket_timeout": timeout,
    }
    config.update(
        result_backend=None,
        broker_connection_timeout=timeout,
        broker_connection_retry=False,
        task_publish_retry=False,
    )
    app = Celery("cloudrun-celery-api", set_as_current=False)
    app.conf.update(config)
    return app


@dataclass
class Broker:
    """Where the API publishes (``celery``), reads queue depth (``broker_redis``) and task state (``results_redis``)."""

    settings: BrokerSettings
    celery: Celery
    broker_redis: redis.Redis
    results_redis: redis.Redis

    @classmethod
    def from_settings(cls, settings: BrokerSettings) -> Broker:
        broker_redis = redis_client(settings.redis_url, settings)
        results_redis = (
            broker_redis
            if settings.backend_url == settings.redis_url
            else redis_client(settings.backend_url, settings)
        )
        return cls(settings, publisher_app(settings), broker_redis, results_redis)

    @property
    def deadline_seconds(self) -> float:
        # The whole call, reconnect included, gets what one connect may take: the socket
        # timeouts alone could add up (connect + read, then the retry's).
        return self.settings.redis_connect_timeout_seconds

    async def run(self, call: Callable[[], T], what: str) -> T:
        """Run a blocking Redis/Celery ``call`` in a thread; any broker failure becomes BrokerUnavailable."""
        try:
            with anyio.fail_after(self.deadline_seconds):
                return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        except TimeoutError:
            log.warning("%s: no answer from Redis within %.1f s", what, self.deadline_seconds)
            raise BrokerUnavailable(f"{what}: no answer from Redis within {self.deadline_seconds:.1f} s") from None
        except BROKER_ERRORS as exc:
            log.warning("%s failed: %s: %s", what, type(exc).__name__, exc)
            raise BrokerUnavailable(f"{what}: {type(exc).__name__}: {redact_urls(str(exc))}") from exc

    def ping(self) -> None:
        self.broker_redis.ping()
        if self.results_redis is not self.broker_redis:
            self.results_redis.ping()

    def close(self) -> None:
        self.broker_redis.close()
        if self.results_redis is not self.broker_redis:
            self.results_redis.close()
        self.celery.close()


_URL = re.compile(r"rediss?://[^\s'\"]+")


def redact_urls(text: str) -> str:
    """Error text with any Redis URL's password hidden (kombu puts the URL in some messages)."""

    def hide(match: re.Match[str]) -> str:
        try:
            return redact(match.group(0))
        except ValueError:
            return "redis://***"

    return _URL.sub(hide, text)
