"""``redis``: the Memorystore for Redis instance that is the broker and result backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .reader import ConfigReader

REDIS_KEYS = frozenset(
    {
        "tier",
        "memorySizeGb",
        "version",
        "transitEncryption",
        "maintenanceWindow",
        "snapshotPeriod",
    }
)
MAINTENANCE_KEYS = frozenset({"day", "hour"})
REDIS_TIERS = ("BASIC", "STANDARD_HA")
REDIS_VERSIONS = ("REDIS_6_X", "REDIS_7_0", "REDIS_7_2")
# Memorystore's RDB snapshot periods (persistence_config.rdb_snapshot_period); DISABLED = none.
# What a restart loses and repeats per period: docs/broker-durability.md.
SNAPSHOT_PERIODS = (
    "DISABLED",
    "ONE_HOUR",
    "SIX_HOURS",
    "TWELVE_HOURS",
    "TWENTY_FOUR_HOURS",
)
WEEKDAYS = (
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
)


@dataclass(frozen=True)
class MaintenanceWindow:
    day: str
    hour: int


@dataclass(frozen=True)
class RedisSettings:
    tier: str
    memory_size_gb: int
    version: str
    transit_encryption: bool
    maintenance_window: MaintenanceWindow
    snapshot_period: str
    """An RDB snapshot period, or ``DISABLED`` (no persistence)."""


def read_redis(reader: ConfigReader, prod: bool) -> RedisSettings:
    """``prod``: snapshots default to hourly and cannot be turned off (docs/broker-durability.md)."""
    cfg = reader.section("redis", REDIS_KEYS)
    window = reader.object(
        "redis.maintenanceWindow", MAINTENANCE_KEYS, cfg.get("maintenanceWindow")
    )
    return RedisSettings(
        tier=reader.choice("redis.tier", cfg.get("tier"), "STANDARD_HA", REDIS_TIERS),
        memory_size_gb=reader.integer(
            "redis.memorySizeGb", cfg.get("memorySizeGb"), 1, 1, 300
        ),
        version=reader.choice(
            "redis.version", cfg.get("version"), "REDIS_7_2", REDIS_VERSIONS
        ),
        transit_encryption=reader.boolean(
            "redis.transitEncryption", cfg.get("transitEncryption"), True
        ),
        maintenance_window=MaintenanceWindow(
            day=reader.choice(
                "redis.maintenanceWindow.day", window.get("day"), "SUNDAY", WEEKDAYS
            ),
            hour=reader.integer(
                "redis.maintenanceWindow.hour", window.get("hour"), 3, 0, 23
            ),
        ),
        snapshot_period=_snapshot_period(reader, cfg.get("snapshotPeriod"), prod),
    )


def _snapshot_period(reader: ConfigReader, value: Any, prod: bool) -> str:
    period = reader.choice(
        "redis.snapshotPeriod",
        value,
        "ONE_HOUR" if prod else "DISABLED",
        SNAPSHOT_PERIODS,
    )
    if prod and period == "DISABLED":
        reader.fail(
            "redis.snapshotPeriod",
            period,
            f"{' | '.join(SNAPSHOT_PERIODS[1:])} on a prod stack (without snapshots a restart "
            "loses the whole queued backlog)",
        )
    return period
