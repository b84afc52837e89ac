"""Fixtures for the Pulumi program tests: one mocked run per stack, shared by the session."""

from __future__ import annotations

import pytest

from tests.infra.harness import ProgramRun, run_program_full

# The invalid-config tests' shared check asserts outside a test module: keep pytest's messages.
pytest.register_assert_rewrite("tests.infra.invalid_config")


@pytest.fixture(scope="session")
def dev() -> ProgramRun:
    return run_program_full("dev")


@pytest.fixture(scope="session")
def prod() -> ProgramRun:
    return run_program_full("prod")


@pytest.fixture(scope="session", params=["dev", "prod"])
def stack_run(
    request: pytest.FixtureRequest, dev: ProgramRun, prod: ProgramRun
) -> ProgramRun:
    return dev if request.param == "dev" else prod
