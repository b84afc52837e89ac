"""Bad ``network`` values (infra/settings/network.py) fail before any resource is declared."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.invalid_config import (
    assert_refused_before_any_resource,
    with_connector,
    with_field,
)


# (stack, overrides, fragments the message must contain)
CASES: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "connector name longer than 25": (
        "dev",
        with_connector(name="celery-dev-serverless-conn"),
        [
            "network.connector.name: got 'celery-dev-serverless-conn'; allowed: at most 25 chars"
        ],
    ),
    "connector CIDR not a /28": (
        "dev",
        with_connector(cidr="10.8.0.0/24"),
        [
            "network.connector.cidr: got '10.8.0.0/24'; allowed: a private IPv4 range /28"
        ],
    ),
    "connector CIDR with host bits": (
        "dev",
        with_connector(cidr="10.8.0.5/28"),
        [
            "network.connector.cidr: got '10.8.0.5/28'; allowed: a private IPv4 range /28"
        ],
    ),
    "connector CIDR inside the subnet": (
        "dev",
        with_connector(cidr="10.10.0.16/28"),
        [
            "network.connector.cidr: got '10.10.0.16/28'",
            "allowed: a /28 outside network.subnetCidr (10.10.0.0/24)",
        ],
    ),
    "connector min not below max": (
        "dev",
        with_connector(minInstances=3, maxInstances=3),
        [
            "network.connector.minInstances: got 3; allowed: less than network.connector.maxInstances (3)"
        ],
    ),
    "connector instances out of range": (
        "dev",
        with_connector(maxInstances=11),
        ["network.connector.maxInstances: got 11; allowed: an integer from 3 to 10"],
    ),
    "connector machine type": (
        "dev",
        with_connector(machineType="n2-standard-2"),
        [
            "network.connector.machineType: got 'n2-standard-2'; allowed: f1-micro | e2-micro | e2-standard-4"
        ],
    ),
    "egress mode": (
        "dev",
        with_field("network", egress="vpc"),
        ["network.egress: got 'vpc'; allowed: connector | direct"],
    ),
    "connector settings with direct egress": (
        "prod",
        {"network": {"egress": "direct", "subnetCidr": "10.20.0.0/24", "connector": {"minInstances": 2}}},
        [
            "network.connector: got {\"minInstances\": 2}; allowed: unset with network.egress: direct "
            "(no connector is created"
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: c.replace(" ", "-"))
def test_bad_value_fails_before_any_resource(case: str) -> None:
    assert_refused_before_any_resource(*CASES[case])
