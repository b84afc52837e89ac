"""(d) Pickup latency on an idle system: enqueue one task, the worker records when it starts it.

The probe task (benchmarks/fixtures/pickup_probe.py) is loaded into our worker with ``-I`` and
returns ``time.time()`` at its start; the client records ``time.time()`` just before publishing.
One task at a time, spaced 20-40 ms apart, the next sent only after the previous result arrived
(the result is awaited on the backend's pub/sub channel, so the client does not busy-poll).
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from celery.states import READY_STATES

from benchmarks.report import markdown_table, median, percentile
from benchmarks.stack import BenchmarkError, ScratchDir, private_redis
from benchmarks.workers import VariantSpec, running_variants

PROBE = "bench.pickup_probe"
# One consumer process: the probe task is added to the process the fixture starts, and a supervisor's
# children would not have it. Pickup latency is per consumer, so one process measures the same thing.
SPEC = VariantSpec("ours", "ours", "our worker as configured by default (one process of it), plus the probe task",
                   with_probe=True, env=(("WORKER_PROCESSES", "1"),))
TARGET_P99_MS = 20.0


def run(quick: bool) -> dict[str, Any]:
    n = 50 if quick else 500
    rng = random.Random(0)
    latencies_ms: list[float] = []
    scratch = ScratchDir()
    with private_redis() as server, running_variants([SPEC], server, scratch) as (variant,):
        pubsub = variant.results.pubsub(ignore_subscribe_messages=True)
        pubsub.psubscribe("celery-task-meta-*")
        time.sleep(1.0)  # let the warm-up settle: idle system
        for _ in range(n):
            time.sleep(rng.uniform(0.020, 0.040))
            enqueued_at = time.time()
            (task_id,) = variant.publish(PROBE, 1, {"enqueued_at": enqueued_at})
            deadline = time.monotonic() + 10
            while True:
                message = pubsub.get_message(timeout=1.0)
                if message is not None and message["channel"].decode().endswith(task_id):
                    meta = json.loads(message["data"])
                    if meta.get("status") in READY_STATES:  # not STARTED (task_track_started)
                        break
                if time.monotonic() > deadline:
                    variant.process.check_alive()
                    raise BenchmarkError(f"probe task {task_id} not done within 10 s; see {variant.process.log_path}")
            if meta.get("status") != "SUCCESS":
                raise BenchmarkError(f"probe task failed: {meta}")
            latencies_ms.append((meta["result"]["started_at"] - enqueued_at) * 1000)
        pubsub.close()
    p50, p90, p99 = (percentile(latencies_ms, p) for p in (50, 90, 99))
    table = markdown_table(
        ["samples", "p50 (ms)", "p90 (ms)", "p99 (ms)", "max (ms)"],
        [[len(latencies_ms), p50, p90, p99, max(latencies_ms)]],
    )
    return {
        "name": "pickup",
        "parameters": {"samples": n, "spacing_ms": "20-40 uniform", "logs": str(scratch.path)},
        "samples": {"ours": latencies_ms},
        "summary": [{"variant": "ours", "median_ms": median(latencies_ms), "p50_ms": p50, "p90_ms": p90,
                     "p99_ms": p99, "max_ms": max(latencies_ms)}],
        "target": {"what": f"p99 < {TARGET_P99_MS:.0f} ms", "measured": p99, "met": p99 < TARGET_P99_MS},
        "table": table,
    }
