"""Bad ``api`` and ``tasks`` values (infra/settings/services.py) fail before any resource is declared."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.invalid_config import assert_refused_before_any_resource, with_field


# (stack, overrides, fragments the message must contain)
CASES: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "api min greater than max": (
        "dev",
        with_field("api", minInstances=5, maxInstances=2),
        ["api.minInstances: got 5; allowed: at most api.maxInstances (2)"],
    ),
    "memory too large for one CPU": (
        "dev",
        with_field("api", cpu=1, memory="8Gi"),
        ["api.memory: got '8Gi'; allowed: 512Mi to 4Gi with cpu 1"],
    ),
    "CPU count Cloud Run does not offer": (
        "dev",
        with_field("api", cpu=3),
        ["api.cpu: got 3; allowed: 1 | 2 | 4 | 6 | 8"],
    ),
    "memory in the wrong unit": (
        "dev",
        with_field("api", memory="1GB"),
        ["api.memory: got '1GB'; allowed: a size like 512Mi or 2Gi"],
    ),
    "task time limit": (
        "dev",
        with_field("tasks", timeLimitSeconds=0),
        ["tasks.timeLimitSeconds: got 0; allowed: an integer from 1 to 86400"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: c.replace(" ", "-"))
def test_bad_value_fails_before_any_resource(case: str) -> None:
    assert_refused_before_any_resource(*CASES[case])
