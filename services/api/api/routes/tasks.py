"""Enqueue a task by name, and read a task's status. Both need a bearer API key.

Each task in the contract gets its own ``POST /v1/tasks/<name>`` route, so the OpenAPI
spec carries each payload's schema; a catch-all after them answers unknown names with 404.
"""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Header, HTTPException, Path, Response, status
from fastapi.responses import JSONResponse
from starlette.convertors import Convertor, register_url_convertor
from task_contract import TASKS, TaskSpec
from task_contract.catalog import Payload

from api import access_log, idempotency
from api.auth import Caller, CallerDep
from api.collaborators import RedisDep, SubmitterDep
from api.edge_payload import edge_payload_model
from api.schemas import ENQUEUE_ERRORS, UNAUTHORIZED, UNAVAILABLE, ErrorResponse, TaskAccepted, TaskStatus
from api.submission import Submitted, Submitter
from api.task_status import read_status

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

# What pydantic's UUID accepts in a path: any case, hyphens optional, optionally braced.
_UUID = r"\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\}?"


class TaskIdConvertor(Convertor[str]):
    """A path segment that is a UUID: only the status route matches it (OPTIONS advertises GET only)."""

    regex = _UUID

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class TaskNameConvertor(TaskIdConvertor):
    """Any other segment: an enqueue path, POST only (a GET there is 405, not a bad task id)."""

    regex = f"(?!{_UUID}$)[^/]+"


register_url_convertor("task_id", TaskIdConvertor())
register_url_convertor("task_name", TaskNameConvertor())

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=idempotency.KEY_PATTERN,
        description="Retry-safe submits: the same key (1-255 printable ASCII characters) for the same task "
        "and API key within IDEMPOTENCY_WINDOW_SECONDS returns the first submit's task id and enqueues "
        "nothing; the same key with a different payload is a 409. Send one whenever you may retry: after "
        "a 503 the outcome is unknown, and only a retry with the same key cannot enqueue twice.",
    ),
]


# The Cloud Scheduler headers (also what ``api.enqueue_fast_lane`` leaves to this route).
SCHEDULER_JOB_HEADER: Final = "X-CloudScheduler-JobName"
SCHEDULER_TIME_HEADER: Final = "X-CloudScheduler-ScheduleTime"

SchedulerJobName = Annotated[
    str | None,
    Header(
        alias=SCHEDULER_JOB_HEADER,
        max_length=500,
        description="Sent by Cloud Scheduler. Trusted only from a Google ID token of SCHEDULER_CALLERS: with "
        "X-CloudScheduler-ScheduleTime it makes the tick's idempotency key, so a retried tick enqueues once.",
    ),
]
SchedulerScheduleTime = Annotated[
    str | None,
    Header(alias=SCHEDULER_TIME_HEADER, max_length=64, description="Sent by Cloud Scheduler: the tick."),
]


def scheduler_tick_key(caller: Caller, job_name: str | None, schedule_time: str | None) -> str | None:
    """The idempotency key of one Cloud Scheduler tick, or None (docs/schedules.md).

    Only a scheduler identity's headers count: from an API key they are ignored, so a key
    holder can neither forge a tick nor block one. A manual "force run" has no schedule time:
    it is not deduplicated by the scheduler headers (each run enqueues a task; an
    Idempotency-Key header still works).
    """
    if caller.google_account is None or not job_name or not schedule_time:
        return None
    return f"cloudscheduler:{job_name}@{schedule_time}"


def status_path(task_id: str) -> str:
    return f"{router.prefix}/{task_id}"


async def enqueue(
    spec: TaskSpec,
    payload: Payload,
    caller: CallerDep,
    submitter: SubmitterDep,
    idempotency_key: IdempotencyKey = None,
    scheduler_job: SchedulerJobName = None,
    schedule_time: SchedulerScheduleTime = None,
) -> Response:
    idempotency_key = scheduler_tick_key(caller, scheduler_job, schedule_time) or idempotency_key
    return await publish(spec, payload, caller, submitter, idempotency_key)


async def publish(
    spec: TaskSpec, payload: Payload, caller: Caller, submitter: Submitter, idempotency_key: str | None
) -> Response:
    """Submit a validated payload and answer 202 (this route, and ``api.enqueue_fast_lane`` for most requests)."""
    claim_key = None if idempotency_key is None else idempotency.storage_key(caller, spec.name, idempotency_key)
    submitted = await submitter.submit(spec, payload.model_dump(mode="json"), claim_key)
    # Ties the request to the task the worker logs: on this request's access-log line (access_log).
    access_log.note(
        task_id=submitted.task_id,
        task=spec.name,
        queue=spec.queue,
        api_key_id=caller.key_id,
        submission="replayed" if submitted.replayed else "submitted",
    )
    return accepted(spec, submitted)


def accepted_body(spec: TaskSpec, submitted: Submitted) -> TaskAccepted:
    return TaskAccepted(
        task_id=submitted.task_id,
        task=spec.name,
        queue=spec.queue,
        status_url=status_path(submitted.task_id),
        idempotent_replay=submitted.replayed,
    )


# json's encoder for a str as JSONResponse writes it (ensure_ascii=False).
_json_string: Callable[[str], str] = json.encoder.encode_basestring


def accepted(spec: TaskSpec, submitted: Submitted) -> Response:
    """202 with a Location header and ``accepted_body``'s JSON, as JSONResponse renders it, written directly.

    No model built and dumped, no JSON encoder run per request (a cost per enqueue, benchmark (a));
    ``tests/api/test_enqueue.py`` checks the bytes against ``JSONResponse(accepted_body(...).model_dump())``.
    """
    url = status_path(submitted.task_id)
    body = (
        f'{{"task_id":{_json_string(submitted.task_id)},"task":{_json_string(spec.name)},'
        f'"queue":{_json_string(spec.queue)},"status_url":{_json_string(url)},'
        f'"idempotent_replay":{"true" if submitted.replayed else "false"}}}'
    )
    return Response(body.encode(), status.HTTP_202_ACCEPTED, {"Location": url}, JSONResponse.media_type)


def enqueue_route(spec: TaskSpec) -> Callable[..., Awaitable[Response]]:
    """``enqueue`` bound to one task, with the body typed as that task's payload model (for validation and OpenAPI)."""

    async def route(**params: Any) -> Response:
        return await enqueue(spec, **params)

    signature = inspect.signature(enqueue)
    parameters = [
        param.replace(annotation=Annotated[edge_payload_model(spec), Body(description=spec.payload.__doc__)])
        if name == "payload"
        else param
        for name, param in signature.parameters.items()
        if name != "spec"
    ]
    route.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    route.__name__ = f"enqueue_{spec.name}"
    return route


for _spec in TASKS.values():
    router.add_api_route(
        f"/{_spec.name}",
        enqueue_route(_spec),
        methods=["POST"],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=TaskAccepted,
        response_class=JSONResponse,
        summary=f"Enqueue `{_spec.name}` on the `{_spec.queue}` queue",
        responses=ENQUEUE_ERRORS,
    )


@router.post(
    "/{task_name:task_name}",
    status_code=status.HTTP_404_NOT_FOUND,
    responses={404: {"model": ErrorResponse, "description": "No task by that name."}, 401: UNAUTHORIZED},
    summary="Any other task name: 404",
)
async def enqueue_unknown(task_name: str, caller: CallerDep) -> ErrorResponse:
    known = ", ".join(sorted(TASKS))
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown task {task_name!r}; known tasks: {known}")


@router.get(
    "/{task_id:task_id}",
    response_model=TaskStatus,
    responses={404: {"model": ErrorResponse, "description": "Never submitted, or expired."}, 401: UNAUTHORIZED,
               405: {"model": ErrorResponse, "description": "Not a task id (not a UUID): that path is an enqueue "
                     "path, which takes POST only."},
               503: UNAVAILABLE},
    summary="A task's state, result or error",
)
async def get_task_status(
    task_id: Annotated[uuid.UUID, Path(description="The id returned by the enqueue call.")],
    caller: CallerDep,
    redis: RedisDep,
) -> TaskStatus:
    found = await redis.call(lambda: read_status(redis.results_client, str(task_id)), "status read")
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no task {task_id}: it was never submitted, or its record expired (RESULT_TTL_SECONDS)",
        )
    return found
