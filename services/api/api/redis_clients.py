"""The API's connections to Redis (broker and result backend), each call under a deadline.

Every request-time call to Redis goes through :meth:`RedisClients.call`, which awaits it on the
event loop under a hard deadline (``asyncio.timeout``), so a Redis that is down or hung turns
into :class:`BrokerUnavailable` (HTTP 503) in about a second, never a hang. The one blocking
client left, ``broker_redis``, is read by the ``/metrics`` queue-depth collector in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
import redis.asyncio
import redis.asyncio.retry
from kombu.exceptions import KombuError
from redis.backoff import NoBackoff
from redis.retry import Retry
from task_contract import BrokerSettings
from task_contract.connection import redact

log = logging.getLogger(__name__)

T = TypeVar("T")

# Errors that mean "Redis is unreachable or misbehaving", as opposed to a bug in this code.
BROKER_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, KombuError, OSError)


class BrokerUnavailable(Exception):
    """Redis did not answer in time or failed the command: the outcome of a write is unknown.

    The message names the cause for the log; clients get a fixed text (``main``), so the
    Redis host and port stay out of responses.
    """


class BrokerFull(Exception):
    """Redis refused a write because it is at ``maxmemory`` (``noeviction``): nothing was written."""


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

    Its pool holds at most ``max_connections``; past that a request waits for a free
    connection (a blocking pool), within the same deadline as the call itself.
    """
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=settings.redis_connect_timeout_seconds,
        **_client_options(url, settings),
    )
    return redis.asyncio.Redis(connection_pool=pool, retry=redis.asyncio.retry.Retry(NoBackoff(), 1))


@dataclass
class RedisClients:
    """``broker_client`` publishes, ``results_client`` reads task state, ``broker_redis`` (blocking) reads queue depth.

    ``results_client`` is ``broker_client`` itself when the result backend is the broker's Redis.
    """

    settings: BrokerSettings
    broker_client: redis.asyncio.Redis
    results_client: redis.asyncio.Redis
    broker_redis: redis.Redis

    @classmethod
    def from_settings(cls, settings: BrokerSettings, max_connections: int) -> RedisClients:
        aio = async_redis_client(settings.redis_url, settings, max_connections)
        same = settings.backend_url == settings.redis_url
        results = aio if same else async_redis_client(settings.backend_url, settings, max_connections)
        return cls(settings, aio, results, redis_client(settings.redis_url, settings))

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
        """Await ``call()`` under the deadline; a full Redis is BrokerFull, any other failure BrokerUnavailable."""
        try:
            async with asyncio.timeout(self.deadline_seconds):
                return await call()
        except TimeoutError:
            log.warning("%s: no answer from Redis within %.1f s", what, self.deadline_seconds)
            raise BrokerUnavailable(f"{what}: no answer from Redis within {self.deadline_seconds:.1f} s") from None
        except redis.exceptions.OutOfMemoryError as exc:
            log.warning("%s refused: Redis is at maxmemory: %s", what, exc)
            raise BrokerFull(f"{what}: Redis is at maxmemory") from exc
        except BROKER_ERRORS as exc:
            log.warning("%s failed: %s: %s", what, type(exc).__name__, redact_urls(str(exc)))
            raise BrokerUnavailable(f"{what}: {type(exc).__name__}: {redact_urls(str(exc))}") from exc

    async def ping(self) -> None:
        await self.broker_client.ping()
        if not self.shared:
            await self.results_client.ping()

    async def aclose(self) -> None:
        await self.broker_client.aclose()
        if not self.shared:
            await self.results_client.aclose()
        self.broker_redis.close()


_URL = re.compile(r"rediss?://[^\s'\"]+")


def redact_urls(text: str) -> str:
    """Error text with any Redis URL's password hidden (kombu puts the URL in some messages)."""

    def hide(match: re.Match[str]) -> str:
        try:
            return redact(match.group(0))
        except ValueError:
            return "redis://***"

    return _URL.sub(hide, text)
