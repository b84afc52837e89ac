"""The API's own settings, read from the environment (docs/runtime-contract.md).

Broker and result-backend settings are ``task_contract.BrokerSettings``, shared with the worker.
"""

from __future__ import annotations

from pathlib import Path

from api.google_identity import GOOGLE_CERTS_URL
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from task_contract import QUEUES
from task_contract.cloud_logging import LEVELS

HOW_TO_SET_KEYS = (
    "set API_KEYS=key1,key2 (local runs) or API_KEYS_FILE=/path/to/keys "
    "(one key per line; on Cloud Run the Secret Manager secret mounted at /secrets/api-keys/keys)"
)


class ApiSettings(BaseSettings):
    """Environment: API_KEYS / API_KEYS_FILE, IDEMPOTENCY_WINDOW_SECONDS, MAX_BODY_BYTES, LOG_LEVEL, PORT, ...

    All of them are in docs/runtime-contract.md.
    """

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    api_keys: str | None = Field(
        default=None, description="Comma-separated bearer keys, for local runs.", repr=False
    )
    api_keys_file: Path | None = Field(default=None, description="File with one bearer key per line.")
    # How often API_KEYS_FILE is read again: a key removed from it stops working within this time.
    api_keys_reload_seconds: float = Field(default=10.0, ge=0.1, le=3600)
    idempotency_window_seconds: int = Field(default=86_400, ge=1, le=30 * 86_400)
    max_body_bytes: int = Field(default=65_536, ge=1, le=32 * 1024 * 1024)
    # Cap on each serving process's Redis connections: with Redis hung, each waiting request
    # would otherwise open one more. Past the cap a request waits for a free connection
    # (within REDIS_CONNECT_TIMEOUT_SECONDS, then 503).
    redis_max_connections: int = Field(default=100, ge=1, le=10_000)
    # Back-pressure: an enqueue answers 429 (nothing enqueued) once its queue holds this many
    # messages (all priority lists), or Redis's used memory reaches this share of maxmemory.
    max_queue_length: int = Field(default=100_000, ge=0, description="0: no limit.")
    max_queue_lengths: str | None = Field(default=None, description="Per queue, e.g. 'low=1000,high=50000'.")
    redis_memory_high_water_percent: int = Field(default=90, ge=1, le=100, description="100: no check.")
    # Serving processes (uvicorn workers), sized from the service's CPU limit by the stack.
    web_concurrency: int = Field(default=1, ge=1, le=64)
    # Google ID tokens (docs/schedules.md): accepted only from these service accounts, with this audience.
    scheduler_callers: str = Field(default="", description="Comma-separated service account emails.")
    google_id_audience: str | None = Field(default=None, description="This API's URL, the tokens' audience.")
    google_certs_url: str = Field(default=GOOGLE_CERTS_URL, description="Where Google's signing certificates are.")
    log_level: str = Field(default="INFO")
    port: int = Field(default=8080, ge=1, le=65_535)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        name = value.strip().upper()
        if name not in LEVELS:
            raise ValueError(f"LOG_LEVEL={value!r} is not a log level; use one of {', '.join(LEVELS)}")
        return name

    @model_validator(mode="after")
    def _keys_configured(self) -> ApiSettings:
        if self.api_keys_file is not None and not self.api_keys_file.is_file():
            raise ValueError(f"API_KEYS_FILE={self.api_keys_file} does not exist or is not a file; {HOW_TO_SET_KEYS}")
        if not self.bearer_keys():
            raise ValueError(f"no API keys configured: {HOW_TO_SET_KEYS}")
        return self

    @field_validator("max_queue_lengths")
    @classmethod
    def _known_queues(cls, value: str | None) -> str | None:
        for item in (value or "").split(","):
            name, _, number = item.partition("=")
            if item.strip() and (name.strip() not in QUEUES or not number.strip().isdigit()):
                raise ValueError(
                    f"MAX_QUEUE_LENGTHS={value!r}: {item.strip()!r} is not <queue>=<count>; "
                    f"queues are {', '.join(QUEUES)}, e.g. 'low=1000,high=50000'"
                )
        return value

    def queue_length_limits(self) -> dict[str, int]:
        """Each queue's maximum length (0: none): MAX_QUEUE_LENGTH, overridden by MAX_QUEUE_LENGTHS."""
        limits = dict.fromkeys(QUEUES, self.max_queue_length)
        for item in (self.max_queue_lengths or "").split(","):
            name, _, number = item.partition("=")
            if item.strip():
                limits[name.strip()] = int(number)
        return limits

    @model_validator(mode="after")
    def _audience_with_callers(self) -> ApiSettings:
        if self.google_id_callers() and not self.google_id_audience:
            raise ValueError(
                "SCHEDULER_CALLERS is set but GOOGLE_ID_AUDIENCE is not: set it to this API's URL, "
                "the audience of the callers' ID tokens"
            )
        return self

    def google_id_callers(self) -> tuple[str, ...]:
        return tuple(email.strip() for email in self.scheduler_callers.split(",") if email.strip())

    def bearer_keys(self) -> tuple[str, ...]:
        """Every accepted key, from API_KEYS and API_KEYS_FILE, in order, without duplicates.

        Both take keys separated by commas or newlines (the file usually has one per line);
        blank entries and ``#`` comment lines are dropped.
        """
        text = self.api_keys or ""
        if self.api_keys_file is not None:
            text += "\n" + self.api_keys_file.read_text(encoding="utf-8")
        lines = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
        keys = (key.strip() for line in lines for key in line.split(","))
        return tuple(dict.fromkeys(key for key in keys if key))
