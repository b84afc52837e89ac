"""How a catalog entry becomes a Celery task: its name, its delivery options, its payload check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from celery import shared_task
from pydantic import ValidationError
from task_contract.catalog import Payload, spec_for

P = TypeVar("P", bound=Payload)


def contract_task(name: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``shared_task`` for the catalog task ``name``.

    Late acks and reject-on-worker-lost only for idempotent tasks: the message is acked after the
    task ends, so a worker killed mid-task leads to redelivery, and the task may run twice.
    """
    spec = spec_for(name)
    return shared_task(  # type: ignore[no-any-return]
        name=spec.name,
        bind=True,
        acks_late=spec.idempotent,
        reject_on_worker_lost=spec.idempotent,
        **options,
    )


def validated(model: type[P], name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> P:
    """The payload, or ValueError naming the task and what is wrong (the task fails, no retry)."""
    if args:
        raise ValueError(f"task {name!r} takes keyword arguments only (its payload fields), got {len(args)} positional")
    try:
        payload: P = model.model_validate(kwargs)
        return payload
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}" for err in exc.errors()
        )
        raise ValueError(f"invalid payload for task {name!r}: {problems}") from None
