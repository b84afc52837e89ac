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


# What each error of an enqueue means for a retry (the OpenAPI `responses` of every enqueue route).
UNAUTHORIZED: dict[str, Any] = {
    "model": ErrorResponse,
    "description": "Missing or invalid bearer API key. Nothing was done; retrying with the same key fails the same way.",
}
UNAVAILABLE: dict[str, Any] = {
    "model": ErrorResponse,
    "description": "Redis did not answer in time or failed the command. **The outcome is unknown**: the task "
    "may or may not have been enqueued. Retrying with the same `Idempotency-Key` is safe (it returns the task "
    "if it was enqueued, or enqueues it once); a retry without a key may enqueue it twice. Retry after "
    "`Retry-After` seconds.",
}
ENQUEUE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: UNAUTHORIZED,
    409: {"model": ErrorResponse, "description": "The Idempotency-Key was already used, within the window, for "
          "another task or payload. Nothing was enqueued; do not retry with that key: send a new key for a new "
          "submission."},
    413: {"model": ErrorResponse, "description": "The body is over MAX_BODY_BYTES. Nothing was enqueued; "
          "retrying the same body fails the same way: send a smaller payload."},
    422: {"description": "The body is not valid JSON (malformed, not UTF-8, nested too deeply, or with a NaN or "
          "infinite number), does not match the task's payload schema, or a header is invalid. Every bad body "
          "is a 422, never a 400. Nothing was enqueued; retrying the same request fails the same way: fix it."},
    429: {"model": ErrorResponse, "description": "Back-pressure: the task's queue is at its maximum length "
          "(MAX_QUEUE_LENGTH) or Redis is near or at its memory limit. Nothing was enqueued; retry after "
          "`Retry-After` seconds (with the same Idempotency-Key, if you sent one)."},
    503: UNAVAILABLE,
}
