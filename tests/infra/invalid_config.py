"""Variations of the dev stack's config for the invalid-config tests, and the check they share.

Every bad stack value fails before any resource is declared, naming key, value and what is
allowed; the cases live with the config section they break (``test_invalid_<section>.py``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.harness import ProgramError, run_program_full, stack_config


def dev_value(key: str) -> Any:
    config, _ = stack_config("dev")
    return json.loads(config[f"cloudrun-celery:{key}"])


def with_field(key: str, **fields: Any) -> dict[str, Any]:
    """The dev stack's object ``key`` with some fields changed."""
    return {key: {**dev_value(key), **fields}}


def with_connector(**fields: Any) -> dict[str, Any]:
    network = dev_value("network")
    return {"network": {**network, "connector": {**network["connector"], **fields}}}


def with_worker(index: int, **fields: Any) -> dict[str, Any]:
    workers = dev_value("workers")
    workers[index] = {**workers[index], **fields}
    return {"workers": workers}


def assert_refused_before_any_resource(
    stack: str, overrides: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(ProgramError) as failure:
        run_program_full(stack, overrides)
    error = failure.value
    assert type(error.original).__name__ == "InvalidConfig", repr(error.original)
    message = str(error)
    for fragment in fragments:
        assert fragment in message
    assert f"Pulumi.{stack}.yaml" in message
    assert error.resources == [], (
        "no resource may be declared when the config is invalid"
    )
    assert "super-secret-key" not in message
