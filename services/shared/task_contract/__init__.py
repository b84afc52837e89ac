"""The contract between the API and the worker, and the facts the deployment shares with them.

The API publishes tasks by name and never imports the worker's code; the worker
implements the same names. Everything both sides must agree on lives here:

- ``queues``: queue names and the Redis keys kombu keeps them in (no dependencies).
- ``deployment``: pools, log levels, labels, env var names and what a prod stack is
  (no dependencies; the Pulumi program and the policy pack import it).
- ``connection``: broker and result-backend URLs, Redis TLS, transport options.
- ``catalog``: task names, which queue each task goes to, and the pydantic model of each
  task's payload.

The names below load their module on first use, so ``import task_contract.queues`` does not
pull in pydantic or kombu (the Pulumi program's virtualenv has neither).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from task_contract.catalog import TASKS, TaskSpec, UnknownTaskError, spec_for
    from task_contract.connection import BrokerSettings, celery_connection_config
    from task_contract.queues import QUEUES

_HOMES = {
    "QUEUES": "task_contract.queues",
    "TASKS": "task_contract.catalog",
    "TaskSpec": "task_contract.catalog",
    "UnknownTaskError": "task_contract.catalog",
    "spec_for": "task_contract.catalog",
    "BrokerSettings": "task_contract.connection",
    "celery_connection_config": "task_contract.connection",
}

__all__ = [
    "QUEUES",
    "TASKS",
    "BrokerSettings",
    "TaskSpec",
    "UnknownTaskError",
    "celery_connection_config",
    "spec_for",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'task_contract' has no attribute {name!r}")
    return getattr(import_module(home), name)
