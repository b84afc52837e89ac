"""The contract between the API and the worker.

The API publishes tasks by name and never imports the worker's code; the worker
implements the same names. Everything both sides must agree on lives here:

- ``connection``: broker and result-backend URLs, Redis TLS, transport options.
- ``catalog``: queue names, task names, which queue each task goes to, and the
  pydantic model of each task's payload.
"""

from task_contract.catalog import (
    QUEUES,
    TASKS,
    TaskSpec,
    UnknownTaskError,
    spec_for,
)
from task_contract.connection import BrokerSettings, celery_connection_config

__all__ = [
    "QUEUES",
    "TASKS",
    "BrokerSettings",
    "TaskSpec",
    "UnknownTaskError",
    "celery_connection_config",
    "spec_for",
]
