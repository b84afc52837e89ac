"""kombu's Redis lists for a queue, as the API publishes to and counts them.

The names themselves have one home, ``task_contract.queues`` (checked against the installed
kombu and a real Redis by tests/broker/test_queue_keys.py); this module adds what only the API
needs: the list a message of a given priority goes to.
"""

from __future__ import annotations

from bisect import bisect

from task_contract.queues import PRIORITY_STEPS, priority_list, queue_keys


def priority_lists(queue: str) -> list[str]:
    """Every Redis list that holds ``queue``'s messages, priority 0 first."""
    return list(queue_keys(queue))


def list_for_priority(queue: str, priority: int) -> str:
    """The list a message of ``priority`` goes to (kombu's ``Channel._q_for_pri`` + ``priority``)."""
    return priority_list(queue, PRIORITY_STEPS[bisect(PRIORITY_STEPS, priority) - 1])
