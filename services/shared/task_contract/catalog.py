"""Task names, routing and payload models: declared once, here (queues: ``queues.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from task_contract.queues import QUEUES

__all__ = ["QUEUES", "TASKS", "TaskSpec", "UnknownTaskError", "spec_for", "task_routes"]


class Payload(BaseModel):
    """Base of every task payload: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AddPayload(Payload):
    """A quick CPU-light task."""

    x: int = Field(ge=-(10**12), le=10**12)
    y: int = Field(ge=-(10**12), le=10**12)


class ExternalCallPayload(Payload):
    """An I/O-bound call to an external API, standing in for the seeds' AI/HTTP calls."""

    latency_seconds: float = Field(
        default=0.1, ge=0, le=300, description="How long the external API takes to answer."
    )
    url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://",
        description="Call this URL instead of simulating the latency.",
    )


class FlakyPayload(Payload):
    """Fails ``fail_times`` times, retrying with bounded backoff, then succeeds."""

    fail_times: int = Field(default=1, ge=0, le=10)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    queue: str
    payload: type[Payload]
    # Safe to run twice: only these get late acks and redelivery on worker loss.
    idempotent: bool = True


TASKS: Final[dict[str, TaskSpec]] = {
    spec.name: spec
    for spec in (
        TaskSpec("add", queue="high", payload=AddPayload),
        TaskSpec("external_call", queue="default", payload=ExternalCallPayload),
        TaskSpec("flaky", queue="low", payload=FlakyPayload),
    )
}


class UnknownTaskError(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
        self.name = name


def spec_for(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownTaskError(name) from None


def task_routes() -> dict[str, dict[str, str]]:
    """Celery ``task_routes``: the single routing table (a call may still pass ``queue=``)."""
    return {spec.name: {"queue": spec.queue} for spec in TASKS.values()}
