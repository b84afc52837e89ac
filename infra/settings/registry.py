"""``registry``: the Artifact Registry cleanup policy."""

from __future__ import annotations

from dataclasses import dataclass

from .reader import ConfigReader

REGISTRY_KEYS = frozenset({"keepRecentVersions", "deleteUntaggedAfterDays"})


@dataclass(frozen=True)
class RegistrySettings:
    keep_recent_versions: int
    delete_untagged_after_days: int


def read_registry(reader: ConfigReader) -> RegistrySettings:
    cfg = reader.section("registry", REGISTRY_KEYS)
    return RegistrySettings(
        keep_recent_versions=reader.integer(
            "registry.keepRecentVersions", cfg.get("keepRecentVersions"), 10, 1, 1000
        ),
        delete_untagged_after_days=reader.integer(
            "registry.deleteUntaggedAfterDays",
            cfg.get("deleteUntaggedAfterDays"),
            7,
            1,
            365,
        ),
    )
