"""Bad ``apiKeys``, ``appSecrets`` and ``appSecretValues`` (infra/settings/secrets.py) fail before any
resource is declared.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.harness import Secret
from tests.infra.invalid_config import assert_refused_before_any_resource


# (stack, overrides, fragments the message must contain)
CASES: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "API keys in plaintext": (
        "dev",
        {"apiKeys": "super-secret-key"},
        [
            "apiKeys: got '<plaintext, not shown>'; allowed: a secret: pulumi config set --secret"
        ],
    ),
    "app secret value for an undeclared secret": (
        "dev",
        {"appSecretValues": Secret({"stripe-key": "sk"})},
        [
            "appSecretValues: got 'stripe-key'; allowed: a name listed in appSecrets (none)"
        ],
    ),
    "app secret named like the broker URL": (
        "dev",
        {"appSecrets": ["redis-url"]},
        [
            "appSecrets: got 'redis-url'; allowed: a name that is not one of the stack's own secrets"
        ],
    ),
    "app secret consumer that is no workload": (
        "dev",
        {"appSecrets": [{"name": "stripe-key", "consumers": ["fats"]}]},
        [
            "appSecrets[0].consumers: got 'fats'; allowed: a non-empty list of workloads from api, fast, bulk"
        ],
    ),
    "app secret without consumers": (
        "dev",
        {"appSecrets": [{"name": "stripe-key", "consumers": []}]},
        ["appSecrets[0].consumers: got []; allowed: a non-empty list of workloads"],
    ),
    "app secret entry with an unknown key": (
        "dev",
        {"appSecrets": [{"name": "stripe-key", "consumers": ["api"], "readers": []}]},
        ["appSecrets[0].readers: got []; allowed: one of the keys consumers, name"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: c.replace(" ", "-"))
def test_bad_value_fails_before_any_resource(case: str) -> None:
    assert_refused_before_any_resource(*CASES[case])
