"""The ledger sweep against a real Redis: what a killed worker leaves behind is dropped, nothing else."""

from __future__ import annotations

import json

from task_contract import work_ledger

from tests.support.redis_server import RedisServer

NOW = 1_000_000.0


def test_sweep_drops_finished_and_lost_members_only(redis_server: RedisServer) -> None:
    client = redis_server.client()
    for task_id, age in (("finished", 300), ("lost", 5000), ("running-long", 300), ("young-finished", 10)):
        work_ledger.touch(client, "low", task_id, NOW - age)
    results = {"finished": "SUCCESS", "young-finished": "FAILURE", "running-long": "STARTED"}
    for task_id, status in results.items():
        client.set(f"celery-task-meta-{task_id}", json.dumps({"status": status, "task_id": task_id}))
    client.set("celery-task-meta-garbled", b"\xff not json")

    def stored(ids: list[str]) -> list[bytes | None]:
        return list(client.mget([f"celery-task-meta-{i}" for i in ids]))

    dropped = work_ledger.sweep(
        client, "low", NOW, min_age_seconds=60, horizon_seconds=4500, stored_results=stored
    )
    assert sorted(dropped) == ["finished", "lost"]
    remaining = {m.decode() for m in client.zrange(work_ledger.ledger_key("low"), 0, -1)}
    # A running task (STARTED) and anything touched in the last minute stay counted.
    assert remaining == {"running-long", "young-finished"}
    assert work_ledger.result_status(b"\xff not json") is None
    assert work_ledger.sweep(client, "high", NOW, min_age_seconds=60, horizon_seconds=4500, stored_results=stored) == []
