"""The infra tests' per-stack program runs and the worker tests' publishing client, shared here."""

from tests.infra.conftest import dev, prod, stack_run
from tests.worker.conftest import client, client_factory

__all__ = ["client", "client_factory", "dev", "prod", "stack_run"]
