"""worker.work_ledger.FinishesWithAck: when the ack's MULTI removes a task from the work ledger.

The removal must happen exactly once per final state, never for a retry or a requeue, and never be
left waiting for an ack that already happened (early ack, time limit): then postrun removes it.
"""

from __future__ import annotations

from worker.work_ledger import FinishesWithAck


def enabled() -> FinishesWithAck:
    finishes = FinishesWithAck()
    finishes.enabled = True
    return finishes


def test_a_late_ack_task_is_removed_by_its_ack() -> None:
    finishes = enabled()
    finishes.delivered("t1", "tag-1")
    assert finishes.defer("t1")  # final state before the ack: the ack removes it
    assert finishes.settled("t1", "tag-1")
    assert not finishes.settled("t1", "tag-1")  # once


def test_an_ack_before_the_final_state_leaves_the_removal_to_postrun() -> None:
    finishes = enabled()
    finishes.delivered("t1", "tag-1")
    assert not finishes.settled("t1", "tag-1")  # early ack, or Celery's ack at a time limit
    assert not finishes.defer("t1")


def test_a_retry_or_a_requeue_keeps_the_member() -> None:
    finishes = enabled()
    finishes.delivered("t1", "tag-1")
    assert not finishes.settled("t1", "tag-1")  # a retry acks without a final state
    finishes.delivered("t2", "tag-2")
    assert finishes.defer("t2")
    assert not finishes.settled("t2", "tag-2", requeued=True)


def test_two_deliveries_of_one_task_each_settle_their_own_tag() -> None:
    finishes = enabled()
    finishes.delivered("t1", "old")
    finishes.delivered("t1", "new")  # redelivered while the first copy runs
    assert finishes.defer("t1") and finishes.settled("t1", "old")
    assert finishes.defer("t1") and finishes.settled("t1", "new")


def test_off_outside_the_threads_pool() -> None:
    finishes = FinishesWithAck()  # prefork: the task runs in a child, the ack in the parent
    finishes.delivered("t1", "tag-1")
    assert not finishes.defer("t1")
