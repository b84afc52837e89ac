"""A quick task: the many small jobs a queue carries between the slow ones."""

from __future__ import annotations

from typing import Any

from task_contract.catalog import AddPayload

from worker.tasks.contract import contract_task, validated


@contract_task("add")
def add(self: Any, *args: Any, **kwargs: Any) -> int:
    payload = validated(AddPayload, "add", args, kwargs)
    total: int = payload.x + payload.y
    return total
