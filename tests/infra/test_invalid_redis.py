"""Bad ``redis`` values (infra/settings/redis.py) fail before any resource is declared."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.invalid_config import assert_refused_before_any_resource, with_field


# (stack, overrides, fragments the message must contain)
CASES: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "redis tier": (
        "dev",
        with_field("redis", tier="PREMIUM"),
        ["redis.tier: got 'PREMIUM'; allowed: BASIC | STANDARD_HA"],
    ),
    "redis size": (
        "dev",
        with_field("redis", memorySizeGb=0),
        ["redis.memorySizeGb: got 0; allowed: an integer from 1 to 300"],
    ),
    "maintenance day": (
        "dev",
        with_field("redis", maintenanceWindow={"day": "SUN", "hour": 3}),
        ["redis.maintenanceWindow.day: got 'SUN'; allowed: MONDAY | TUESDAY"],
    ),
    "maintenance hour": (
        "dev",
        with_field("redis", maintenanceWindow={"day": "SUNDAY", "hour": 24}),
        ["redis.maintenanceWindow.hour: got 24; allowed: an integer from 0 to 23"],
    ),
    "prod without HA": (
        "prod",
        {"redis": {"tier": "BASIC", "memorySizeGb": 5}},
        ["redis.tier: got 'BASIC'; allowed: STANDARD_HA on the prod stack"],
    ),
    "prod without broker snapshots": (
        "prod",
        {"redis": {"tier": "STANDARD_HA", "snapshotPeriod": "DISABLED"}},
        [
            "redis.snapshotPeriod: got 'DISABLED'; allowed: ONE_HOUR | SIX_HOURS | TWELVE_HOURS | "
            "TWENTY_FOUR_HOURS on a prod stack"
        ],
    ),
    "snapshot period": (
        "dev",
        with_field("redis", snapshotPeriod="HOURLY"),
        ["redis.snapshotPeriod: got 'HOURLY'; allowed: DISABLED | ONE_HOUR"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: c.replace(" ", "-"))
def test_bad_value_fails_before_any_resource(case: str) -> None:
    assert_refused_before_any_resource(*CASES[case])
