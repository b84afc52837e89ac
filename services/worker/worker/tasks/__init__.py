"""The tasks the catalog names (``task_contract.catalog.TASKS``), one module per kind of work.

Each task is registered under its catalog name, validates its kwargs with the catalog's payload
model, and gets late acks only if the catalog marks it idempotent.
"""

from worker.tasks import external, flaky, quick

__all__ = ["external", "flaky", "quick"]
