"""Every bad stack value fails before any resource is declared, naming key, value and what is allowed.

Here: the reader's own rules (unknown keys, wrong types), the top-level keys and ``flower``; each other
section's cases are in ``test_invalid_<section>.py``, and the check they share in ``invalid_config.py``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from tests.infra.harness import ProgramError, run_program_full
from tests.infra.invalid_config import (
    assert_refused_before_any_resource,
    with_connector,
    with_field,
    with_worker,
)

# (stack, overrides, fragments the message must contain)
CASES: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "unknown top-level key": (
        "dev",
        {"redisTier": "BASIC"},
        ["cloudrun-celery:redisTier: got 'BASIC'; allowed: one of the keys", "redis"],
    ),
    "unknown nested key": (
        "dev",
        with_field("api", maxInstnces=4),
        ["api.maxInstnces: got 4; allowed: one of the keys", "maxInstances"],
    ),
    "integer given as text": (
        "dev",
        with_field("api", minInstances="two"),
        ["api.minInstances: got 'two'; allowed: an integer from 0 to 1000"],
    ),
    "boolean given as text": (
        "dev",
        {"deletionProtection": "yes"},
        ["deletionProtection: got 'yes'; allowed: true or false"],
    ),
    "object given as a scalar": (
        "dev",
        {"redis": "BASIC"},
        ["redis: got 'BASIC'; allowed: an object with keys", "memorySizeGb"],
    ),
    "prod without deletion protection": (
        "prod",
        {"deletionProtection": False},
        ["deletionProtection: got false; allowed: true on the prod stack"],
    ),
    "missing project": (
        "dev",
        {"gcp:project": None},
        [
            "gcp:project: got null; allowed: your GCP project id: pulumi config set gcp:project <id>"
        ],
    ),
    "name prefix too long for service account ids": (
        "dev",
        {"namePrefix": "cloudrun-celery-dev"},
        ["namePrefix: got 'cloudrun-celery-dev'; allowed: 3-15 chars"],
    ),
    "flower watches an unknown worker group": (
        "dev",
        {"flower": {"enabled": True, "watchGroups": ["slow"]}},
        ['flower.watchGroups: got ["slow"]; allowed: a non-empty list of worker group names', "fast, bulk"],
    ),}


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: c.replace(" ", "-"))
def test_bad_value_fails_before_any_resource(case: str) -> None:
    assert_refused_before_any_resource(*CASES[case])


def test_all_problems_are_reported_at_once() -> None:
    overrides = {
        **with_worker(0, minInstances=0),
        **with_connector(cidr="10.8.0.0/27"),
        "logLevel": "LOUD",
    }
    with pytest.raises(ProgramError) as failure:
        run_program_full("dev", overrides)
    message = str(failure.value)
    assert "3 problem(s)" in message
    assert "workers[0].minInstances" in message
    assert "network.connector.cidr" in message
    assert "logLevel: got 'LOUD'" in message


def test_bad_value_fails_during_preview_too() -> None:
    with pytest.raises(ProgramError) as failure:
        run_program_full("dev", with_worker(0, minInstances=0), preview=True)
    assert "workers[0].minInstances: got 0" in str(failure.value)
    assert failure.value.resources == []


def test_there_are_at_least_twenty_cases() -> None:
    sections = [
        importlib.import_module(f"tests.infra.{path.stem}")
        for path in Path(__file__).parent.glob("test_invalid_*.py")
        if path.stem != Path(__file__).stem
    ]
    assert len(CASES) + sum(len(section.CASES) for section in sections) >= 20
