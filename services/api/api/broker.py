"""The API's connections to Redis: ``redis.asyncio`` clients, a Celery app that only builds messages.

Every request-time call to Redis goes through :meth:`Broker.call`, which awaits it on the
event loop under a hard deadline (``asyncio.timeout``), so a Redis that is down or hung turns
into :class:`BrokerUnavailable` (HTTP 503) in about a second, never a hang. The one blocking
client left, ``broker_redis``, is read by the ``/metrics`` queue-depth collector in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis
import redis.asyncio
import redis.asyncio.retry
from celery import Celery
from kombu.exceptions import KombuError
from kombu.transport.redis import PRIORITY_STEPS, Channel
from redis.backoff import NoBackoff
from redis.retry import Retry
from task_contract import BrokerSettings, celery_connection_config
from task_contract.connection import redact

from api.celery_message import MessageBuilder

log = logging.getLogger(__name__)

T = TypeVar("T")

# Errors that mean "Redis is unreachable or misbehaving", as opposed to a bug in this code.
BROKER_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, KombuError, OSError)


_CLEAN_UP_ERRORS: tuple[type[BaseException], ...] = (TimeoutError, *BROKER_ERRORS)


class BrokerUnavailable(Exception):
    """Redis did not answer in time or refused the command; the client should retry later."""


def _client_options(url: str, settings: BrokerSettings) -> dict[str, Any]:
    timeout = settings.redis_connect_timeout_seconds
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "health_check_interval": 30,
    }
    if url.startswith("rediss://") and settings.redis_ca_file is not None:
        options["ssl_ca_certs"] = str(settings.redis_ca_file)
    return options


def redis_client(url: str, settings: BrokerSettings) -> redis.Redis:
    """A blocking client that fails fast: ~1 s timeouts and one immediate retry.

    The single retry reconnects a pooled socket that went stale when Redis restarted;
    a Redis that is really down fails both attempts at once (connection refused).
    """
    return redis.Redis.from_url(url, retry=Retry(NoBackoff(), 1), **_client_options(url, settings))


def async_redis_client(url: str, settings: BrokerSettings, max_connections: int) -> redis.asyncio.Redis:
    """The same fail-fast client for the event loop (TLS with REDIS_CA_FILE, AUTH from the URL).

    Its pool holds at most ``max_connections``; past that redis-py raises ConnectionError
    ("Too many connections"), which becomes a 503 like any other broker failure.
    """
    return redis.asyncio.Redis.from_url(
        url,
        retry=redis.asyncio.retry.Retry(NoBackoff(), 1),
        max_connections=max_connections,
        **_client_options(url, settings),
    )


def publisher_app(settings: BrokerSettings) -> Celery:
    """A Celery app for tasks sent by name (the worker's code is never imported).

    The API builds its messages with it (``celery_message``) and publishes them itself; its
    settings are still those ``send_task`` would publish with (tests compare the two).

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
    """Redis for publishing (``broker_client``), task state (``results_client``), queue depth (``broker_redis``, blocking).

    ``results_client`` is ``broker_client`` itself when the result backend is the broker's Redis: then a
    submission records its id and publishes in one pipelined round trip.
    """

    settings: BrokerSettings
    celery: Celery
    messages: MessageBuilder
    broker_client: redis.asyncio.Redis
    results_client: redis.asyncio.Redis
    broker_redis: redis.Redis
    # Clean-ups still running after their request gave up (see ``in_background``).
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    def from_settings(cls, settings: BrokerSettings, max_connections: int) -> Broker:
        same = settings.backend_url == settings.redis_url
        aio = async_redis_client(settings.redis_url, settings, max_connections)
        results = aio if same else async_redis_client(settings.backend_url, settings, max_connections)
        app = publisher_app(settings)
        transport = app.conf.broker_transport_options
        messages = MessageBuilder(
            app, transport.get("sep", Channel.sep), transport.get("priority_steps", PRIORITY_STEPS)
        )
        return cls(settings, app, messages, aio, results, redis_client(settings.redis_url, settings))

    @property
    def shared(self) -> bool:
        """The result backend is the broker's Redis (same client)."""
        return self.results_client is self.broker_client

    @property
    def deadline_seconds(self) -> float:
        # The whole call, reconnect included, gets what one connect may take: the socket
        # timeouts alone could add up (connect + read, then the retry's).
        return self.settings.redis_connect_timeout_seconds

    async def call(self, call: Callable[[], Awaitable[T]], what: str) -> T:
        """Await ``call()`` under the deadline; any broker failure becomes BrokerUnavailable."""
        try:
            async with asyncio.timeout(self.deadline_seconds):
                return await call()
        except TimeoutError:
            log.warning("%s: no answer from Redis within %.1f s", what, self.deadline_seconds)
            raise BrokerUnavailable(f"{what}: no answer from Redis within {self.deadline_seconds:.1f} s") from None
        except BROKER_ERRORS as exc:
            log.warning("%s failed: %s: %s", what, type(exc).__name__, exc)
            raise BrokerUnavailable(f"{what}: {type(exc).__name__}: {redact_urls(str(exc))}") from exc

    def in_background(self, call: Callable[[], Awaitable[None]], what: str) -> asyncio.Task[None]:
        """Run a best-effort clean-up to its end under its own deadline, even if the request stops waiting."""

        async def run() -> None:
            try:
                async with asyncio.timeout(self.deadline_seconds):
                    await call()
            except _CLEAN_UP_ERRORS as exc:
                log.warning("%s failed: %s: %s", what, type(exc).__name__, redact_urls(str(exc)))

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def ping(self) -> None:
        await self.broker_client.ping()
        if not self.shared:
            await self.results_client.ping()

    async def aclose(self) -> None:
        await self.broker_client.aclose()
        if not self.shared:
            await self.results_client.aclose()
        self.close()

    def close(self) -> None:
        """The blocking parts: queue-depth client and the Celery app."""
        self.broker_redis.close()
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
