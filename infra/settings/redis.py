"""``redis``: the Memorystore for Redis instance that is the broker and result backend."""

from __future__ import annotations

from dataclasses import dataclass

from .reader import ConfigReader

REDIS_KEYS = frozenset(
    {"tier", "memorySizeGb", "version", "transitEncryption", "maintenanceWindow"}
)
MAINTENANCE_KEYS = frozenset({"day", "hour"})
REDIS_TIERS = ("BASIC", "STANDARD_HA")
REDIS_VERSIONS = ("REDIS_6_X", "REDIS_7_0", "REDIS_7_2")
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


def read_redis(reader: ConfigReader) -> RedisSettings:
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
    )
