"""``appSecrets``, ``appSecretValues``, ``apiKeys`` and ``verifyKey``: what goes into Secret Manager from config.

An ``appSecrets`` entry is a name, or ``{name, consumers}``. ``consumers`` lists the workloads
that read it (``api`` and worker group names): only their service accounts get
``secretAccessor`` on it and only their containers get the env var. A bare name is read by every
workload, as before consumers existed (docs/config-reference.md, "App secrets").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from task_contract.deployment import CONTRACT_ENV

from .reader import PROJECT, ConfigReader

SECRET_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
# Secret ids the stack itself uses, and env vars the runtime contract already defines.
RESERVED_SECRET_NAMES = frozenset({"redis-url", "redis-ca", "api-keys", "verify-key"})
RESERVED_ENV_VARS = frozenset(CONTRACT_ENV)


API_WORKLOAD = "api"
APP_SECRET_KEYS = frozenset({"name", "consumers"})


@dataclass(frozen=True)
class AppSecret:
    """An extra application secret; its consumers see it as env var ``env_var``."""

    name: str
    env_var: str
    value: pulumi.Output[str] | None
    consumers: tuple[str, ...]
    """``api`` and/or worker group names, in config order."""

    def read_by(self, workload: str) -> bool:
        return workload in self.consumers


def read_app_secrets(
    reader: ConfigReader, worker_groups: tuple[str, ...]
) -> tuple[AppSecret, ...]:
    workloads = (API_WORKLOAD, *worker_groups)
    consumers = _app_secret_consumers(reader, workloads)
    names = list(consumers)
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
            consumers=consumers[name],
        )
        for name in names
    )


def _app_secret_consumers(
    reader: ConfigReader, workloads: tuple[str, ...]
) -> dict[str, tuple[str, ...]]:
    """Secret name -> the workloads that read it, for every valid ``appSecrets`` entry."""
    entries_raw = reader.json_value("appSecrets")
    found: dict[str, tuple[str, ...]] = {}
    if entries_raw is None:
        return found
    if not isinstance(entries_raw, list):
        reader.fail(
            "appSecrets", entries_raw, "a list of secret names or {name, consumers}"
        )
        return found
    for index, entry in enumerate(entries_raw):
        consumers = workloads
        if isinstance(entry, dict):
            key = f"appSecrets[{index}]"
            cfg = reader.object(key, APP_SECRET_KEYS, entry)
            entry = cfg.get("name")
            consumers = _consumers(reader, f"{key}.consumers", cfg, workloads)
        name = _app_secret_name(reader, entry, found)
        if name is not None:
            found[name] = consumers  # empty only when a problem was reported
    return found


def _consumers(
    reader: ConfigReader, key: str, cfg: dict[str, Any], workloads: tuple[str, ...]
) -> tuple[str, ...]:
    raw = cfg.get("consumers")
    allowed = f"a non-empty list of workloads from {', '.join(workloads)} (api or worker group names)"
    if not isinstance(raw, list) or not raw:
        reader.fail(key, raw, allowed)
        return ()
    unknown = [c for c in raw if c not in workloads]
    for consumer in unknown:
        reader.fail(key, consumer, allowed)
    if len(set(map(str, raw))) != len(raw):
        reader.fail(key, raw, "each workload once")
        return ()
    return () if unknown else tuple(raw)


def _app_secret_name(
    reader: ConfigReader, name: Any, taken: Mapping[str, Any]
) -> str | None:
    if not isinstance(name, str) or not SECRET_NAME_RE.fullmatch(name):
        reader.fail(
            "appSecrets", name, "names of 2-40 chars a-z 0-9 -, starting with a letter"
        )
    elif name in taken:
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
        return name
    return None


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


def missing_secret_values(
    api_keys: pulumi.Output[str] | None, app_secrets: tuple[AppSecret, ...]
) -> list[tuple[str, str]]:
    """(key, the command that sets it) for each secret that would be created without a version.

    Cloud Run refuses a revision that references a secret with no version, so ``pulumi up``
    would create the secrets and then fail on every service (docs/config-reference.md).
    """
    missing: list[tuple[str, str]] = []
    if api_keys is None:
        missing.append(
            (
                "apiKeys",
                f"pulumi config set --secret {PROJECT}:apiKeys 'key-one,key-two'",
            )
        )
    for secret in app_secrets:
        if secret.value is None:
            missing.append(
                (
                    f"appSecretValues.{secret.name}",
                    f"pulumi config set --secret --path '{PROJECT}:appSecretValues.{secret.name}' '<value>'",
                )
            )
    return missing


def report_missing_secret_values(
    reader: ConfigReader, api_keys: pulumi.Output[str] | None, app_secrets: tuple[AppSecret, ...]
) -> None:
    """A problem for ``pulumi up``; on preview a warning, so a first preview still shows the plan."""
    for key, command in missing_secret_values(api_keys, app_secrets):
        problem = (
            f"{key}: no value; set it before `pulumi up` (Cloud Run refuses a revision whose "
            f"secret has no version): {command}"
        )
        if pulumi.runtime.is_dry_run():
            pulumi.log.warn(problem + " (preview goes on; `pulumi up` stops here)")
        else:
            reader.problems.append(problem)
