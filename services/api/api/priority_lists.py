"""kombu's Redis lists for a queue: one list per priority step, named with its separator.

kombu's Redis transport keeps each priority band of a queue in its own list: ``q`` for
priority 0 and ``q\\x06\\x163``, ``q\\x06\\x166``, ``q\\x06\\x169`` for the higher steps
(``kombu.transport.redis.Channel._q_for_pri``). Queue depth, the enqueue back-pressure check
and message publishing all need these names; this is their one home in the API. The API's
Celery config never overrides ``sep`` or ``priority_steps``, so kombu's defaults are the names.
"""

from __future__ import annotations

from bisect import bisect
from typing import Final

from kombu.transport.redis import PRIORITY_STEPS, Channel

SEP: Final[str] = Channel.sep
STEPS: Final[tuple[int, ...]] = tuple(PRIORITY_STEPS)


def priority_lists(queue: str) -> list[str]:
    """Every Redis list that holds ``queue``'s messages, priority 0 first."""
    return [queue if step == 0 else f"{queue}{SEP}{step}" for step in STEPS]


def list_for_priority(queue: str, priority: int) -> str:
    """The list a message of ``priority`` goes to (``Channel._q_for_pri`` + ``priority``)."""
    step = STEPS[bisect(STEPS, priority) - 1]
    return f"{queue}{SEP}{step}" if step else queue
