"""``appSecrets``, ``appSecretValues``, ``apiKeys`` and ``verifyKey``: what goes into Secret Manager from config."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from .reader import ConfigReader

SECRET_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
# Secret ids the stack itself uses, and env vars the runtime contract already defines.
RESERVED_SECRET_NAMES = frozenset({"redis-url", "redis-ca", "api-keys", "verify-key"})
RESERVED_ENV_VARS = frozenset(
    {
        "PORT",
        "REDIS_URL",
        "RESULT_BACKEND_URL",
        "REDIS_CA_FILE",
        "REDIS_CONNECT_TIMEOUT_SECONDS",
        "TASK_TIME_LIMIT_SECONDS",
        "VISIBILITY_TIMEOUT_SECONDS",
        "RESULT_TTL_SECONDS",
        "API_KEYS",
        "API_KEYS_FILE",
        "IDEMPOTENCY_WINDOW_SECONDS",
        "MAX_BODY_BYTES",
        "WORKER_QUEUES",
        "WORKER_POOL",
        "WORKER_CONCURRENCY",
        "LOG_LEVEL",
    }
)


@dataclass(frozen=True)
class AppSecret:
    """An extra application secret; the services see it as env var ``env_var``."""

    name: str
    env_var: str
    value: pulumi.Output[str] | None


def read_app_secrets(reader: ConfigReader) -> tuple[AppSecret, ...]:
    names = _app_secret_names(reader)
    values: Mapping[str, Any] = {}
    values_raw = reader.secret("appSecretValues")
    if values_raw is not None:
        try:
            parsed = json.loads(values_raw)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict) or not all(
            isinstance(v, str) for v in parsed.values()
        ):
            reader.fail(
                "appSecretValues",
                "<secret, not shown>",
                "an object of secret name -> string value",
            )
        else:
            values = parsed
            for unknown in sorted(set(values) - set(names)):
                reader.fail(
                    "appSecretValues",
                    unknown,
                    f"a name listed in appSecrets ({', '.join(names) or 'none'})",
                )
    return tuple(
        AppSecret(
            name=name,
            env_var=_env_var(name),
            value=pulumi.Output.secret(str(values[name])) if name in values else None,
        )
        for name in names
    )


def _app_secret_names(reader: ConfigReader) -> list[str]:
    names_raw = reader.json_value("appSecrets")
    names: list[str] = []
    if names_raw is None:
        return names
    if not isinstance(names_raw, list):
        reader.fail("appSecrets", names_raw, "a list of secret names")
        return names
    for name in names_raw:
        if not isinstance(name, str) or not SECRET_NAME_RE.fullmatch(name):
            reader.fail(
                "appSecrets",
                name,
                "names of 2-40 chars a-z 0-9 -, starting with a letter",
            )
        elif name in names:
            reader.fail("appSecrets", name, "each name once")
        elif name in RESERVED_SECRET_NAMES or _env_var(name) in RESERVED_ENV_VARS:
            reader.fail(
                "appSecrets",
                name,
                "a name that is not one of the stack's own secrets "
                f"({', '.join(sorted(RESERVED_SECRET_NAMES))}) and whose env var "
                f"{_env_var(name)} is not set by the runtime contract",
            )
        else:
            names.append(name)
    return names


def _env_var(secret_name: str) -> str:
    return secret_name.upper().replace("-", "_")


def read_api_keys(reader: ConfigReader) -> pulumi.Output[str] | None:
    raw = reader.secret("apiKeys")
    if raw is None:
        return None
    keys = [k.strip() for k in re.split(r"[,\n]", raw) if k.strip()]
    if not keys:
        reader.fail(
            "apiKeys",
            "<secret, not shown>",
            "one or more API keys, comma- or newline-separated",
        )
        return None
    # The API reads one key per line (API_KEYS_FILE).
    return pulumi.Output.secret("\n".join(keys) + "\n")


def read_verify_key(reader: ConfigReader) -> pulumi.Output[str] | None:
    """The deploy check's own API key (docs/delivery.md): one key, readable by the API and the deployer."""
    raw = reader.secret("verifyKey")
    if raw is None:
        return None
    key = raw.strip()
    if not key or "," in key or "\n" in key:
        reader.fail("verifyKey", "<secret, not shown>", "one API key, without commas or newlines")
        return None
    return pulumi.Output.secret(key)
