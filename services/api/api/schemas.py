"""Response bodies: what a client of the API can rely on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class TaskAccepted(BaseModel):
    task_id: str = Field(description="Poll `status_url` with it.")
    task: str
    queue: str
    status_url: str = Field(description="Path of the status endpoint for this task.")
    idempotent_replay: bool = Field(
        description="True when an earlier submit with the same Idempotency-Key already enqueued this task."
    )


class TaskError(BaseModel):
    type: str = Field(description="The exception's class name, e.g. `ValueError`.")
    message: str


class TaskStatus(BaseModel):
    task_id: str
    task: str | None = Field(default=None, description="The task name, while the API remembers it.")
    state: str = Field(description="Celery's state: PENDING, STARTED, RETRY, SUCCESS, FAILURE or REVOKED.")
    result: Any = Field(default=None, description="The return value, once the state is SUCCESS.")
    error: TaskError | None = Field(default=None, description="Why it failed (FAILURE, RETRY, REVOKED). No traceback.")
    date_done: str | None = None


class ErrorResponse(BaseModel):
    detail: str = Field(description="What went wrong and how to fix it.")


class HealthResponse(BaseModel):
    status: str
