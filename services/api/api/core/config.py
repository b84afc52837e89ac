"""The API's own settings, read from the environment (docs/runtime-contract.md).

Broker and result-backend settings are ``task_contract.BrokerSettings``, shared with the worker.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from task_contract.cloud_logging import LEVELS

HOW_TO_SET_KEYS = (
    "set API_KEYS=key1,key2 (local runs) or API_KEYS_FILE=/path/to/keys "
    "(one key per line; on Cloud Run the Secret Manager secret mounted at /secrets/api-keys/keys)"
)


class ApiSettings(BaseSettings):
    """Environment: API_KEYS / API_KEYS_FILE, IDEMPOTENCY_WINDOW_SECONDS, MAX_BODY_BYTES, LOG_LEVEL, PORT."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    api_keys: str | None = Field(
        default=None, description="Comma-separated bearer keys, for local runs.", repr=False
    )
    api_keys_file: Path | None = Field(default=None, description="File with one bearer key per line.")
    idempotency_window_seconds: int = Field(default=86_400, ge=1, le=30 * 86_400)
    max_body_bytes: int = Field(default=65_536, ge=1, le=32 * 1024 * 1024)
    # Cap on the event loop's Redis connections: with Redis hung, each waiting request would
    # otherwise open one more. Past the cap a request gets 503 at once. Keep it above Cloud
    # Run's request concurrency (api.concurrency, 80 by default).
    redis_max_connections: int = Field(default=100, ge=1, le=10_000)
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
