"""(a) Enqueue throughput and latency: the real API against a bare FastAPI endpoint.

Both run as one uvicorn process with the same settings, side by side for the whole run; wrk
(one thread, 50 connections, an authenticated JSON POST from fixtures/enqueue.lua) hits them in
alternation, and each round's Redis queue is emptied before the next. No worker runs, so every
accepted task stays queued until that cleanup.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.report import markdown_table, median, ratio
from benchmarks.stack import (
    PYTHON, BenchmarkError, Process, ScratchDir, base_env, free_port, http_ok, private_redis, redis_client,
    wait_for,
)

LUA = Path(__file__).resolve().parent / "fixtures" / "enqueue.lua"
BODY = '{"x": 2, "y": 3}'
PATH = "/v1/tasks/add"
CONNECTIONS = 50
TARGET_RATIO = 0.5


def wrk(url: str, seconds: int, api_key: str) -> dict[str, Any]:
    argv = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s", "-s", str(LUA), url]
    env = {**os.environ, "BENCH_API_KEY": api_key, "BENCH_BODY": BODY}
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=seconds + 30)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise BenchmarkError(f"wrk failed ({out.returncode}): {out.stdout[-2000:]}{out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["req_per_s"] = result["requests"] / (result["duration_us"] / 1e6)
    errors = sum(v for k, v in result.items() if k.startswith("errors_"))
    if errors > 0.01 * max(result["requests"], 1):
        raise BenchmarkError(f"{url}: {errors} of {result['requests']} requests failed: {result}")
    return result


def empty_queues(url: str) -> int:
    """Delete everything but kombu's bindings: the tasks the API queued in this round."""
    client = redis_client(url)
    keys = [k for k in client.scan_iter(count=1000) if not k.startswith(b"_kombu")]
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start:start + 1000])
    return len(keys)


def run(quick: bool) -> dict[str, Any]:
    seconds, rounds = (2, 1) if quick else (10, 5)
    api_key = secrets.token_urlsafe(16)
    scratch = ScratchDir()
    samples: dict[str, list[dict[str, Any]]] = {"api": [], "bare": []}
    with private_redis() as server:
        api_port, bare_port = free_port(), free_port()
        api = Process("api", [PYTHON, "-m", "api"],
                      base_env(REDIS_URL=server.url, API_KEYS=api_key, PORT=str(api_port)), scratch.log("api"))
        bare = Process("bare", [PYTHON, "-m", "benchmarks.fixtures.bare_api"],
                       base_env(PORT=str(bare_port)), scratch.log("bare"))
        try:
            api.start()
            bare.start()
            wait_for(lambda: http_ok(f"http://127.0.0.1:{api_port}/readyz"), 60, "API /readyz", api)
            wait_for(lambda: http_ok(f"http://127.0.0.1:{bare_port}/healthz"), 60, "bare endpoint", bare)
            urls = {"api": f"http://127.0.0.1:{api_port}{PATH}", "bare": f"http://127.0.0.1:{bare_port}{PATH}"}
            for name, url in urls.items():  # warm-up, not recorded
                wrk(url, 1, api_key)
            empty_queues(server.url)
            order = ["bare", "api"]
            for round_index in range(rounds):
                for name in order if round_index % 2 == 0 else reversed(order):
                    result = wrk(urls[name], seconds, api_key)
                    result["keys_deleted_after"] = empty_queues(server.url)
                    api.check_alive()
                    bare.check_alive()
                    samples[name].append(result)
                    time.sleep(0.5)
            if samples["api"] and samples["api"][-1]["keys_deleted_after"] == 0:
                raise BenchmarkError("the API answered but queued nothing in Redis; is it using REDIS_URL?")
        finally:
            api.stop()
            bare.stop()
    summary = []
    for name in ("bare", "api"):
        s = samples[name]
        summary.append({
            "variant": name,
            "median_req_per_s": median([r["req_per_s"] for r in s]),
            "median_p50_ms": median([r["p50_us"] / 1000 for r in s]),
            "median_p99_ms": median([r["p99_us"] / 1000 for r in s]),
        })
    bare_row, api_row = summary
    api_ratio = ratio(api_row["median_req_per_s"], bare_row["median_req_per_s"])
    table = markdown_table(
        ["endpoint", "median req/s", "median p50 (ms)", "median p99 (ms)", "× bare"],
        [[r["variant"], r["median_req_per_s"], r["median_p50_ms"], r["median_p99_ms"],
          ratio(r["median_req_per_s"], bare_row["median_req_per_s"])] for r in summary],
    )
    return {
        "name": "enqueue",
        "parameters": {"wrk": f"-t1 -c{CONNECTIONS} -d{seconds}s", "rounds": rounds, "path": PATH, "body": BODY,
                       "logs": str(scratch.path)},
        "samples": samples,
        "summary": summary,
        "target": {"what": f"API >= {TARGET_RATIO:.0%} of bare req/s", "measured": api_ratio,
                   "met": api_ratio >= TARGET_RATIO},
        "table": table,
    }
