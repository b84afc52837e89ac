"""Queue names and the Redis keys kombu keeps them in. No dependencies: the Pulumi program,
the policy pack, the API and the worker all import this module.

The queue order is the priority order. A worker consuming ``high,default`` always drains
``high`` first (the Redis transport polls queues in the order given).

kombu's Redis transport stores a queue as several lists, one per priority step: a message
published with priority ``p`` goes to the list of the highest step at or below ``p``, and
step 0 is the queue's own name (docs/broker-durability.md, "Where a queue lives"). Queue depth,
autoscaling and alerts must count all of them.
"""

from __future__ import annotations

from typing import Final

QUEUES: Final = ("high", "default", "low")
DEFAULT_QUEUE: Final = "default"

# kombu.transport.redis: Channel.sep and PRIORITY_STEPS (tests/broker/test_queue_keys.py
# checks them against the installed kombu and a real Redis).
PRIORITY_SEPARATOR: Final = "\x06\x16"
PRIORITY_STEPS: Final = (0, 3, 6, 9)


def priority_list(queue: str, step: int) -> str:
    """The Redis list holding ``queue``'s messages of priority ``step`` (one of PRIORITY_STEPS)."""
    return queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}"


def queue_keys(queue: str) -> tuple[str, ...]:
    """Every Redis list that holds ``queue``'s waiting messages, highest priority first."""
    return tuple(priority_list(queue, step) for step in PRIORITY_STEPS)
