"""Enqueue a task by name, and read a task's status. Both need a bearer API key.

Each task in the contract gets its own ``POST /v1/tasks/<name>`` route, so the OpenAPI
spec carries each payload's schema; a catch-all after them answers unknown names with 404.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Body,
    Header,
    HTTPException,
    Path,
    Request,
    Response,
    status,
)
from pydantic import ConfigDict, model_validator
from task_contract import TASKS, TaskSpec
from task_contract.catalog import Payload

from api import access_log, idempotency
from api.auth import CallerDep
from api.broker import Broker, BrokerUnavailable
from api.core.config import ApiSettings
from api.metrics import BROKER_UNAVAILABLE, IDEMPOTENCY_CONFLICT, ApiMetrics
from api.publisher import IdempotencyClaim, submit
from api.schemas import ErrorResponse, TaskAccepted, TaskStatus
from api.task_status import read_status

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

UNAVAILABLE = {"model": ErrorResponse, "description": "Redis is unreachable; retry after `Retry-After` seconds."}
UNAUTHORIZED = {"model": ErrorResponse, "description": "Missing or invalid bearer API key."}

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=idempotency.KEY_PATTERN,
        description="Retry-safe submits: the same key (1-255 printable ASCII characters) for the same task "
        "and API key within IDEMPOTENCY_WINDOW_SECONDS returns the first submit's task id and enqueues "
        "nothing; the same key with a different payload is a 409.",
    ),
]


def status_path(task_id: str) -> str:
    return f"{router.prefix}/{task_id}"


async def enqueue(
    spec: TaskSpec,
    payload: Payload,
    request: Request,
    response: Response,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> TaskAccepted:
    broker: Broker = request.app.state.broker
    metrics: ApiMetrics = request.app.state.metrics
    settings: ApiSettings = request.app.state.settings
    claim = (
        None
        if idempotency_key is None
        else IdempotencyClaim(
            idempotency.storage_key(caller, spec.name, idempotency_key), settings.idempotency_window_seconds
        )
    )
    kwargs = payload.model_dump(mode="json")
    try:
        submitted = await broker.call(partial(submit, broker, spec, kwargs, claim), "publish")
    except idempotency.IdempotencyConflict as exc:
        metrics.failed(spec, IDEMPOTENCY_CONFLICT)
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except BrokerUnavailable:
        metrics.failed(spec, BROKER_UNAVAILABLE)
        raise
    if submitted.replayed:
        metrics.idempotent_replays.labels(spec.name, spec.queue).inc()
    else:
        metrics.submissions.labels(spec.name, spec.queue).inc()
    # Ties the request to the task the worker logs: on this request's access-log line (access_log).
    access_log.note(
        task_id=submitted.task_id,
        task=spec.name,
        queue=spec.queue,
        api_key_id=caller.key_id,
        submission="replayed" if submitted.replayed else "submitted",
    )
    return accepted(response, spec, submitted.task_id, replayed=submitted.replayed)


def accepted(response: Response, spec: TaskSpec, task_id: str, *, replayed: bool) -> TaskAccepted:
    location = status_path(task_id)
    response.headers["Location"] = location
    return TaskAccepted(
        task_id=task_id, task=spec.name, queue=spec.queue, status_url=location, idempotent_replay=replayed
    )


class JsonSchemaPayload(Payload):
    """JSON Schema's types at the edge: no ``false`` or ``"3"`` for an integer, but ``3.0`` is one.

    pydantic's lax mode coerces booleans and numeric strings, which the published schema
    does not allow; its strict mode refuses ``3.0``, which JSON Schema's ``integer`` allows.
    """

    model_config = ConfigDict(strict=True)

    @model_validator(mode="before")
    @classmethod
    def _integral_floats_are_integers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {
            key: int(value)
            if isinstance(value, float) and value.is_integer() and key in fields and fields[key].annotation is int
            else value
            for key, value in data.items()
        }


def edge_payload_model(spec: TaskSpec) -> type[Payload]:
    """The task's payload model with JSON Schema's typing (``JsonSchemaPayload``), under the same name.

    Subclassed here rather than changed in the contract: the worker keeps validating the
    (already JSON-typed) kwargs as it does.
    """
    model: type[Payload] = type(
        spec.payload.__name__,
        (spec.payload, JsonSchemaPayload),
        {"__doc__": spec.payload.__doc__, "__module__": __name__},
    )
    return model


def enqueue_route(spec: TaskSpec) -> Callable[..., Awaitable[TaskAccepted]]:
    """``enqueue`` bound to one task, with the body typed as that task's payload model (for validation and OpenAPI)."""

    async def route(**params: Any) -> TaskAccepted:
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
        summary=f"Enqueue `{_spec.name}` on the `{_spec.queue}` queue",
        responses={
            401: UNAUTHORIZED,
            409: {"model": ErrorResponse, "description": "The Idempotency-Key was used for another payload."},
            413: {"model": ErrorResponse, "description": "The body is over MAX_BODY_BYTES."},
            503: UNAVAILABLE,
        },
    )


@router.post(
    "/{task_name}",
    status_code=status.HTTP_404_NOT_FOUND,
    responses={404: {"model": ErrorResponse, "description": "No task by that name."}, 401: UNAUTHORIZED},
    summary="Any other task name: 404",
)
async def enqueue_unknown(task_name: str, caller: CallerDep) -> ErrorResponse:
    known = ", ".join(sorted(TASKS))
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown task {task_name!r}; known tasks: {known}")


@router.get(
    "/{task_id}",
    response_model=TaskStatus,
    responses={404: {"model": ErrorResponse, "description": "Never submitted, or expired."}, 401: UNAUTHORIZED,
               503: UNAVAILABLE},
    summary="A task's state, result or error",
)
async def get_task_status(
    task_id: Annotated[uuid.UUID, Path(description="The id returned by the enqueue call.")],
    request: Request,
    caller: CallerDep,
) -> TaskStatus:
    broker: Broker = request.app.state.broker
    found = await broker.call(partial(read_status, broker.results_client, str(task_id)), "status read")
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no task {task_id}: it was never submitted, or its record expired (RESULT_TTL_SECONDS)",
        )
    return found
