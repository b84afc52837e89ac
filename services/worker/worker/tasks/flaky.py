"""A task that fails ``fail_times`` times and retries with bounded exponential backoff."""

from __future__ import annotations

import random
from typing import Any, Final

from task_contract.catalog import FlakyPayload

from worker.tasks.contract import contract_task, validated

MAX_RETRIES: Final = 5
BACKOFF_BASE_SECONDS: Final = 0.5
BACKOFF_MAX_SECONDS: Final = 10.0


class TransientError(RuntimeError):
    """The failure a retry is for: the next attempt may succeed."""


def backoff_seconds(retries: int) -> float:
    """Exponential, capped, with jitter so retries of many tasks don't arrive together."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2**retries)
    return random.uniform(ceiling / 2, ceiling)


@contract_task("flaky", max_retries=MAX_RETRIES)
def flaky(self: Any, *args: Any, **kwargs: Any) -> dict[str, int]:
    payload = validated(FlakyPayload, "flaky", args, kwargs)
    attempt = self.request.retries + 1
    if self.request.retries < payload.fail_times:
        # Past max_retries, retry() raises the TransientError itself and the task fails.
        raise self.retry(
            exc=TransientError(f"attempt {attempt} failed on purpose ({payload.fail_times} planned failures)"),
            countdown=backoff_seconds(self.request.retries),
        )
    return {"attempts": attempt}
