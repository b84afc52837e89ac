"""The infra tests' per-stack program runs, shared with the scheduler's infra tests."""

from tests.infra.conftest import dev, prod, stack_run

__all__ = ["dev", "prod", "stack_run"]
