"""A broker restart restores the last RDB snapshot: exactly what docs/broker-durability.md says.

Memorystore persists only through RDB snapshots (no append-only file), so this Redis runs with
``appendonly no`` and no automatic saves; the snapshot is an explicit ``BGSAVE`` and the restart
a SIGKILL (no save at shutdown), then a start from the snapshot file.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from task_contract.queues import queue_keys

from tests.broker.celery_messages import celery_app, consume, drain, publish
from tests.support.redis_server import RedisServer
from tests.support.ports import wait_until

QUEUE = "high"  # where the catalog routes "add"


def snapshot(server: RedisServer) -> None:
    client = server.client()
    before = client.lastsave()
    client.bgsave()
    wait_until(lambda: client.lastsave() != before or _saved(server), 15, "BGSAVE to finish")
    info = client.info("persistence")
    assert info["rdb_last_bgsave_status"] == "ok", info


def _saved(server: RedisServer) -> bool:
    info = server.client().info("persistence")
    return not info["rdb_bgsave_in_progress"] and info["rdb_changes_since_last_save"] == 0


def crash_and_restart(server: RedisServer) -> None:
    assert server.process is not None
    server.process.kill()  # no shutdown save: the instance comes back from the last snapshot
    server.process.wait(10)
    server.process = None
    server.start()


def test_restart_restores_the_last_snapshot(
    redis_factory: Callable[..., RedisServer],
) -> None:
    server = redis_factory(password="test-auth-string")
    app = celery_app(server.url)
    try:
        done_before = publish(app, 2)
        assert consume(app, QUEUE, 2) == done_before  # acked before the snapshot
        backlog = publish(app, 6)
        server.client().set("idempotency:before", "task-a")
        snapshot(server)

        done_since = consume(app, QUEUE, 2)  # finished after the snapshot
        enqueued_since = publish(app, 3)
        server.client().set("idempotency:since", "task-b")
        assert done_since == backlog[:2]

        crash_and_restart(server)
        time.sleep(0.2)
        client = server.client()
        assert client.get("idempotency:before") == b"task-a"
        assert client.get("idempotency:since") is None  # claims since the snapshot: forgotten
        delivered = drain(app, QUEUE)
    finally:
        app.close()

    # Back: the whole backlog the snapshot held, including the two already run (they run twice).
    assert delivered == backlog
    ran_twice = set(done_since) & set(delivered)
    lost = set(enqueued_since) - set(delivered)
    assert ran_twice == set(backlog[:2])
    assert lost == set(enqueued_since)
    assert not set(done_before) & set(delivered)  # acked before the snapshot: not run again


def test_without_a_snapshot_a_restart_loses_the_backlog(
    redis_factory: Callable[..., RedisServer],
) -> None:
    # The dev default (snapshotPeriod: DISABLED): nothing on disk, nothing comes back.
    server = redis_factory(password="test-auth-string")
    app = celery_app(server.url)
    try:
        publish(app, 4)
        assert sum(server.client().llen(k) for k in queue_keys(QUEUE)) == 4
        crash_and_restart(server)
        assert drain(app, QUEUE) == []
    finally:
        app.close()


@pytest.mark.parametrize("priority", [0, 3, 9])
def test_queue_keys_name_every_list_kombu_fills(
    redis_factory: Callable[..., RedisServer], priority: int
) -> None:
    # task_contract.queues is the one copy of kombu's priority sub-list naming.
    from kombu.transport.redis import PRIORITY_STEPS, Channel
    from task_contract.queues import PRIORITY_SEPARATOR, PRIORITY_STEPS as OURS

    assert (Channel.sep, list(PRIORITY_STEPS)) == (PRIORITY_SEPARATOR, list(OURS))
    server = redis_factory()
    app = celery_app(server.url)
    try:
        app.send_task("add", kwargs={"x": 1, "y": 2}, priority=priority)
        lengths = {key: server.client().llen(key) for key in queue_keys(QUEUE)}
    finally:
        app.close()
    assert sum(lengths.values()) == 1
    assert set(server.client().keys(f"{QUEUE}*")) <= {k.encode() for k in queue_keys(QUEUE)}
