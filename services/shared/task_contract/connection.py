"""Broker and result-backend connection: URLs, Redis TLS and transport options.

Read from the environment (names below), so Cloud Run can inject ``REDIS_URL``
from a Secret Manager reference and mount the Memorystore CA as a file.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kombu.entity import Queue
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from task_contract.catalog import QUEUES, task_routes

# Seconds added on top of the hard time limit: a message is redelivered only
# after it has been unacked this long, so it must outlive the longest task.
VISIBILITY_MARGIN_SECONDS = 300


class BrokerSettings(BaseSettings):
    """Environment: REDIS_URL, RESULT_BACKEND_URL, REDIS_CA_FILE, TASK_TIME_LIMIT_SECONDS, ..."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    redis_url: str = Field(
        default="redis://localhost:6379/0",
        description="Broker URL: redis:// or rediss:// (TLS), with the AUTH string as password.",
    )
    result_backend_url: str | None = Field(
        default=None, description="Result backend URL; defaults to REDIS_URL."
    )
    redis_ca_file: Path | None = Field(
        default=None, description="PEM CA bundle that signs the Redis server certificate."
    )
    redis_connect_timeout_seconds: float = Field(default=1.0, gt=0, le=30)
    task_time_limit_seconds: int = Field(default=600, ge=1, le=86_400)
    visibility_timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        description="Defaults to TASK_TIME_LIMIT_SECONDS + 300; must exceed it.",
    )
    result_ttl_seconds: int = Field(default=86_400, ge=60, le=30 * 86_400)

    @model_validator(mode="after")
    def _check(self) -> BrokerSettings:
        for env, url in (("REDIS_URL", self.redis_url), ("RESULT_BACKEND_URL", self.result_backend_url)):
            if url is not None and urlsplit(url).scheme not in ("redis", "rediss"):
                raise ValueError(
                    f"{env} must start with redis:// or rediss://, got {redact(url)!r}"
                )
        if self.redis_ca_file is not None:
            if not self.uses_tls:
                raise ValueError(
                    "REDIS_CA_FILE is set but REDIS_URL is not rediss://; "
                    "use a rediss:// URL or unset REDIS_CA_FILE"
                )
            if not self.redis_ca_file.is_file():
                raise ValueError(f"REDIS_CA_FILE={self.redis_ca_file} does not exist or is not a file")
        if self.visibility_timeout <= self.task_time_limit_seconds:
            raise ValueError(
                f"VISIBILITY_TIMEOUT_SECONDS={self.visibility_timeout} must exceed "
                f"TASK_TIME_LIMIT_SECONDS={self.task_time_limit_seconds}, or running tasks are delivered twice"
            )
        return self

    @property
    def uses_tls(self) -> bool:
        return urlsplit(self.redis_url).scheme == "rediss"

    @property
    def backend_url(self) -> str:
        return self.result_backend_url or self.redis_url

    @property
    def visibility_timeout(self) -> int:
        if self.visibility_timeout_seconds is not None:
            return self.visibility_timeout_seconds
        return self.task_time_limit_seconds + VISIBILITY_MARGIN_SECONDS


def redact(url: str) -> str:
    """The URL with any password replaced, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _ssl_options(settings: BrokerSettings) -> dict[str, Any] | None:
    if not settings.uses_tls:
        return None
    options: dict[str, Any] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    if settings.redis_ca_file is not None:
        options["ssl_ca_certs"] = str(settings.redis_ca_file)
    return options


def celery_connection_config(settings: BrokerSettings) -> dict[str, Any]:
    """The Celery settings both apps share: where to connect, how, and the queues.

    The worker adds its reliability settings on top (services/worker).
    """
    transport_options: dict[str, Any] = {
        # Must exceed the longest task, or a running task is delivered again; Celery reads it
        # in all three places (docs/broker-durability.md, "Visibility timeout").
        "visibility_timeout": settings.visibility_timeout,
        "socket_connect_timeout": settings.redis_connect_timeout_seconds,
        # Drain queues in the order given (high before default before low).
        "queue_order_strategy": "priority",
    }
    config: dict[str, Any] = {
        "broker_url": settings.redis_url,
        "result_backend": settings.backend_url,
        "broker_transport_options": transport_options,
        "result_backend_transport_options": {
            "visibility_timeout": settings.visibility_timeout,
            "socket_connect_timeout": settings.redis_connect_timeout_seconds,
        },
        "visibility_timeout": settings.visibility_timeout,
        "result_expires": settings.result_ttl_seconds,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_queues": [Queue(name) for name in QUEUES],  # type: ignore[no-untyped-call]
        "task_default_queue": "default",
        "task_routes": task_routes(),
        "task_time_limit": settings.task_time_limit_seconds,
    }
    ssl_options = _ssl_options(settings)
    if ssl_options is not None:
        config["broker_use_ssl"] = ssl_options
        config["redis_backend_use_ssl"] = ssl_options
    return config
