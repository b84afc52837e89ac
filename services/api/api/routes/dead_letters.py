"""Dead letters: list the tasks that failed for good, and replay one or all of them. Bearer API key.

The worker records them (``task_contract.dead_letters``). A replay goes through the normal
enqueue path (validation, back-pressure, the Lua submit) with an Idempotency-Key per dead
letter (``dead-letter:<task id>``, shared by every API key), so a retried replay, after a
503 or a lost response, returns the same new task instead of enqueueing it twice. A
replayed dead letter is then deleted.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, Field, ValidationError
from task_contract import TASKS
from task_contract.dead_letters import INDEX_KEY, DeadLetter, record_key, remove

from api import idempotency
from api.auth import Caller, CallerDep
from api.collaborators import MetricsDep, RedisDep, SubmitterDep
from api.metrics import ApiMetrics
from api.redis_clients import RedisClients
from api.routes.tasks import accepted_body, submit_counted
from api.schemas import ENQUEUE_ERRORS, UNAUTHORIZED, UNAVAILABLE, ErrorResponse, TaskAccepted
from api.submission import Submitter

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])

# Replays of a dead letter share one idempotency scope, whichever API key asks.
_REPLAYER = Caller(key_id="dead-letter-replay")
MAX_LIST = 1000


class DeadLetterOut(BaseModel):
    task_id: str = Field(description="The id of the task that failed.")
    task: str
    queue: str
    kwargs: dict[str, object] = Field(description="The payload it was submitted with.")
    error_type: str
    error_message: str
    attempts: int = Field(description="How many times it ran (1 + retries).")
    failed_at: float = Field(description="Unix time of the last failure.")


class DeadLetterList(BaseModel):
    dead_letters: list[DeadLetterOut] = Field(description="Newest first.")


class ReplayedAll(BaseModel):
    replayed: list[TaskAccepted]
    skipped: list[str] = Field(description="Dead letters that cannot be replayed, and why (e.g. an invalid payload).")


async def _read(redis: RedisClients, limit: int) -> list[DeadLetter]:
    async def read() -> list[DeadLetter]:
        ids = [bytes(i).decode() for i in await redis.results_client.zrevrange(INDEX_KEY, 0, limit - 1)]  # type: ignore[arg-type]
        raw = await redis.results_client.mget([record_key(i) for i in ids]) if ids else []
        return [DeadLetter.from_json(r) for r in raw if r is not None]

    return await redis.call(read, "dead letter read")


async def _replay(
    letter: DeadLetter, caller: Caller, submitter: Submitter, metrics: ApiMetrics, redis: RedisClients
) -> TaskAccepted:
    spec = TASKS.get(letter.task)
    if spec is None:
        raise ValueError(f"task {letter.task!r} is no longer in the catalog")
    try:
        kwargs = spec.payload.model_validate(letter.kwargs).model_dump(mode="json")
    except ValidationError as exc:
        raise ValueError(f"its payload is not valid for {spec.name!r}: {exc.errors(include_url=False)}") from None
    claim_key = idempotency.storage_key(_REPLAYER, spec.name, f"dead-letter:{letter.task_id}")
    submitted = await submit_counted(submitter, metrics, spec, kwargs, claim_key)

    async def forget() -> None:
        pipe = redis.results_client.pipeline(transaction=False)
        remove(pipe, letter.task_id)
        await pipe.execute()

    await redis.call(forget, "dead letter delete")
    return accepted_body(spec, submitted)


@router.get("", response_model=DeadLetterList, responses={401: UNAUTHORIZED, 503: UNAVAILABLE},
            summary="Tasks that failed for good (retries exhausted or a permanent error), newest first")
async def list_dead_letters(
    caller: CallerDep, redis: RedisDep, limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100
) -> DeadLetterList:
    letters = await _read(redis, limit)
    return DeadLetterList(dead_letters=[DeadLetterOut(**vars(letter)) for letter in letters])


@router.post("/replay", status_code=status.HTTP_202_ACCEPTED, response_model=ReplayedAll, responses=ENQUEUE_ERRORS,
             summary="Replay every dead letter (up to 1000): each is enqueued again once, then deleted")
async def replay_all(caller: CallerDep, submitter: SubmitterDep, metrics: MetricsDep, redis: RedisDep) -> ReplayedAll:
    replayed: list[TaskAccepted] = []
    skipped: list[str] = []
    for letter in await _read(redis, MAX_LIST):
        try:
            replayed.append(await _replay(letter, caller, submitter, metrics, redis))
        except ValueError as exc:
            skipped.append(f"{letter.task_id}: {exc}")
    return ReplayedAll(replayed=replayed, skipped=skipped)


@router.post("/{task_id}/replay", status_code=status.HTTP_202_ACCEPTED, response_model=TaskAccepted,
             responses={**ENQUEUE_ERRORS, 404: {"model": ErrorResponse, "description": "No such dead letter."}},
             summary="Replay one dead letter: enqueued again once (a retried replay returns the same task)")
async def replay_one(
    task_id: Annotated[str, Path(max_length=255)],
    caller: CallerDep,
    submitter: SubmitterDep,
    metrics: MetricsDep,
    redis: RedisDep,
) -> TaskAccepted:
    raw = await redis.call(lambda: redis.results_client.get(record_key(task_id)), "dead letter read")
    if raw is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no dead letter {task_id}: it was replayed already, expired (DEAD_LETTER_TTL_SECONDS), or never existed",
        )
    try:
        return await _replay(DeadLetter.from_json(raw), caller, submitter, metrics, redis)
    except ValueError as exc:
        detail = f"dead letter {task_id} cannot be replayed: {exc}"
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from None
