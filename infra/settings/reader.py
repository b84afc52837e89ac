"""Reading the ``cloudrun-celery:`` config namespace, collecting every problem at once.

The component modules of this package validate their own keys with ``ConfigReader``; a bad
value becomes one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, TypeVar, cast

import pulumi
from pulumi.runtime import config as runtime_config

PROJECT = "cloudrun-celery"

T = TypeVar("T")


class InvalidConfig(pulumi.RunError):
    """One or more stack config values are invalid. Raised before any resource exists."""


class ConfigReader:
    """Collects every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, key: str, value: Any, allowed: str) -> None:
        self.problems.append(f"{key}: got {show(value)}; allowed: {allowed}")

    def raw(self, key: str) -> str | None:
        value = runtime_config.get_config(f"{PROJECT}:{key}")
        return None if value is None else str(value)

    def json_value(self, key: str) -> Any:
        text = self.raw(key)
        if text is None:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            # A plain string in the stack file arrives unquoted.
            return text

    def section(self, key: str, allowed_keys: frozenset[str]) -> dict[str, Any]:
        """The top-level object ``key``, checked against ``allowed_keys``."""
        return self.object(key, allowed_keys, self.json_value(key))

    def object(
        self, key: str, allowed_keys: frozenset[str], value: Any
    ) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(key, value, f"an object with keys {key_list(allowed_keys)}")
            return {}
        for unknown in sorted(set(value) - allowed_keys):
            self.fail(
                f"{key}.{unknown}",
                value[unknown],
                f"one of the keys {key_list(allowed_keys)}",
            )
        return cast(dict[str, Any], value)

    def integer(self, key: str, value: Any, default: int, low: int, high: int) -> int:
        if value is None:
            return default
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, value, f"an integer from {low} to {high}")
            return default
        if not low <= value <= high:
            self.fail(key, value, f"an integer from {low} to {high}")
            return default
        return value

    def boolean(self, key: str, value: Any, default: bool) -> bool:
        if value is None:
            return default
        if value in ("true", "false"):
            return str(value) == "true"
        if not isinstance(value, bool):
            self.fail(key, value, "true or false")
            return default
        return bool(value)

    def choice(self, key: str, value: Any, default: T, choices: tuple[T, ...]) -> T:
        if value is None:
            return default
        if value not in choices:
            self.fail(key, value, " | ".join(str(c) for c in choices))
            return default
        return cast(T, value)

    def text(
        self, key: str, value: Any, default: str, pattern: re.Pattern[str], allowed: str
    ) -> str:
        if value is None:
            return default
        if not isinstance(value, str) or not pattern.fullmatch(value):
            self.fail(key, value, allowed)
            return default
        return value

    def cidr(self, key: str, value: Any, default: str, prefix: tuple[int, int]) -> str:
        low, high = prefix
        allowed = (
            f"a private IPv4 range /{low}"
            if low == high
            else f"a private IPv4 range from /{low} to /{high}"
        )
        if value is None:
            return default
        try:
            network = ipaddress.ip_network(str(value), strict=True)
        except ValueError:
            self.fail(key, value, allowed)
            return default
        if (
            network.version != 4
            or not network.is_private
            or not low <= network.prefixlen <= high
        ):
            self.fail(key, value, allowed)
            return default
        return str(network)

    def secret(self, key: str) -> str | None:
        """A value that must have been set with ``--secret``; plaintext is refused."""
        value = self.raw(key)
        if value is not None and not runtime_config.is_config_secret(
            f"{PROJECT}:{key}"
        ):
            self.fail(
                key,
                "<plaintext, not shown>",
                f"a secret: pulumi config set --secret {PROJECT}:{key} ... (plaintext would sit in the stack file)",
            )
            return None
        return value


def show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def key_list(keys: frozenset[str]) -> str:
    return ", ".join(sorted(keys))


def all_config_keys() -> set[str]:
    # The language host hands the whole stack config to set_all_config; unknown keys are only
    # visible by listing it.
    return set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
