"""The beat pool's share of the Redis connection budget (docs/connection-budget.md), as the program checks it.

The figure itself (task_contract.connection_budget.BEAT_INSTANCE) is counted on a real beat by
tests/broker/test_connection_budget.py; here the stack config adds it, once, when beat is on.
"""

from __future__ import annotations

import pytest

from tests.infra.harness import ProgramError, run_program_full
from tests.infra.invalid_config import dev_value

ENTRIES = [{"name": "add-every-minute", "everySeconds": 60, "task": "add", "payload": {"x": 1, "y": 2}}]
# prod on Redis 6.x with TLS, 5 GB (M2: 2,500 clients): the worst case without beat is 14,590
# (tests/infra/test_runtime_settings.py), so the config is refused and the message lists every share.
SMALL_REDIS = {**dev_value("redis"), "version": "REDIS_6_X", "tier": "STANDARD_HA", "memorySizeGb": 5,
               "snapshotPeriod": "ONE_HOUR"}


def budget_error(overrides: dict[str, object]) -> str:
    with pytest.raises(ProgramError) as failure:
        run_program_full("prod", {"redis": SMALL_REDIS, **overrides})
    assert type(failure.value.original).__name__ == "InvalidConfig", repr(failure.value.original)
    return str(failure.value)


def test_beat_adds_one_instance_to_the_budget_and_is_named_in_the_error() -> None:
    message = budget_error({"beat": {"enabled": True, "entries": ENTRIES}})
    assert "worst case of 14,595 connections" in message, message
    assert "beat (1 instance, the lock holder) 1 x 1 x 5 = 5" in message, message


def test_beat_off_adds_nothing() -> None:
    message = budget_error({})
    assert "worst case of 14,590 connections" in message and "beat" not in message, message
