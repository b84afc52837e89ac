"""(a) Enqueue throughput and latency: the real API against a bare FastAPI endpoint; (a') with 2 processes.

Both run as one uvicorn process with the same settings (uvloop + httptools, api.__main__), side by
side for the whole run, plus (full run) both on uvicorn's plain asyncio + h11 stack as diagnostics,
plus (full run) the API with WEB_CONCURRENCY=2 for its CPU per request; wrk (one thread, 50
connections, an authenticated JSON POST from fixtures/enqueue.lua) hits them in alternation, and
each round's Redis queue is emptied before the next. No worker runs, so every accepted task stays
queued until that cleanup.

Pinning: each server under test runs on CPU ``SERVER_CPU`` alone, wrk and redis-server on
``LOAD_CPU`` (a Cloud Run instance's CPU is its own; Memorystore is on other hosts). The
``unpinned`` diagnostic rows (full run) serve and load without pinning, the method before.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from functools import partial
from pathlib import Path
from typing import Any

from tests.support.api_process import ApiProcess

from benchmarks.report import markdown_table, median, ratio
from benchmarks.stack import (
    PYTHON,
    BenchmarkError,
    Process,
    ScratchDir,
    base_env,
    free_port,
    LOAD_CPU,
    SERVER_CPU,
    http_ok,
    pin_tree,
    private_redis,
    redis_client,
    tree_cpu_seconds,
    wait_for,
)

LUA = Path(__file__).resolve().parent / "fixtures" / "enqueue.lua"
BODY = '{"x": 2, "y": 3}'
PATH = "/v1/tasks/add"
CONNECTIONS = 50
TARGET_RATIO = 0.6
TARGET_P99_MS = 20.0


def wrk(url: str, seconds: int, api_key: str, server_pid: int | None = None, pinned: bool = True) -> dict[str, Any]:
    # Pinned: wrk on the load CPU (with Redis), the server alone on the other (see ``run``).
    argv = ["taskset", "-c", str(LOAD_CPU)] if pinned else []
    argv += ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s", "-s", str(LUA), url]
    env = {**os.environ, "BENCH_API_KEY": api_key, "BENCH_BODY": BODY}
    cpu_before = tree_cpu_seconds(server_pid) if server_pid else 0.0
    out = subprocess.run(argv, check=False, capture_output=True, text=True, env=env, timeout=seconds + 30)
    cpu = tree_cpu_seconds(server_pid) - cpu_before if server_pid else float("nan")
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise BenchmarkError(f"wrk failed ({out.returncode}): {out.stdout[-2000:]}{out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["req_per_s"] = result["requests"] / (result["duration_us"] / 1e6)
    result["server_cpu_ms_per_request"] = cpu * 1000 / max(result["requests"], 1)
    errors = sum(v for k, v in result.items() if k.startswith("errors_"))
    if errors > 0.01 * max(result["requests"], 1):
        raise BenchmarkError(f"{url}: {errors} of {result['requests']} requests failed: {result}")
    return result


class HelperApi:
    """tests/support/api_process.py's ApiProcess, seen through the interface of stack.Process."""

    def __init__(self, api: ApiProcess) -> None:
        self.api = api
        self.log_path = api.log_path

    @property
    def pid(self) -> int:
        assert self.api.process is not None, "API not started"
        return self.api.process.pid

    def check_alive(self) -> None:
        if self.api.process is None or self.api.process.poll() is not None:
            raise BenchmarkError(f"the API exited early:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.api.log_lines()[-lines:])

    def stop(self) -> None:
        self.api.stop(timeout=10)  # keeps the log, unlike cleanup()


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
    with private_redis() as server:
        api_env = {"REDIS_URL": server.url}
        # name -> (argv, extra environment, readiness path). "api" is python -m api with its defaults.
        variants: dict[str, tuple[list[str], dict[str, str], str]] = {
            "bare": ([PYTHON, "-m", "benchmarks.fixtures.bare_api"], {}, "/healthz"),
            "api": ([PYTHON, "-m", "api"], api_env, "/readyz"),
        }
        if not quick:
            # What the per-request access log line costs, and what one async LPUSH costs.
            variants["api-log-warning"] = ([PYTHON, "-m", "api"], {**api_env, "LOG_LEVEL": "WARNING"}, "/readyz")
            variants["bare+lpush"] = ([PYTHON, "-m", "benchmarks.fixtures.bare_api"],
                                      {"BENCH_REDIS_URL": server.url}, "/healthz")
            # (a'): two serving processes under uvicorn's supervisor; its CPU counts the whole tree.
            variants["api-2-processes"] = ([PYTHON, "-m", "api"], {**api_env, "WEB_CONCURRENCY": "2"}, "/readyz")
            # What uvloop + httptools give each: both again on uvicorn's plain asyncio + h11 stack.
            variants["diag: bare, asyncio+h11"] = ([PYTHON, "-m", "benchmarks.fixtures.bare_api"],
                                                   {"BENCH_SERVER_STACK": "asyncio-h11"}, "/healthz")
            variants["diag: api, asyncio+h11"] = ([PYTHON, "-m", "benchmarks.fixtures.api_asyncio_h11"],
                                                  {**api_env, "API_KEYS": api_key}, "/readyz")
            # The method before 2026-12-03 17:00, for comparison: server and wrk float over both CPUs.
            variants["diag: bare, unpinned"] = variants["bare"]
            variants["diag: api, unpinned"] = variants["api"]
        unpinned = {name for name in variants if name.endswith("unpinned")}
        # On Cloud Run the instance's CPU is its own and Redis (Memorystore) runs on other hosts: so
        # the server under test gets CPU SERVER_CPU to itself; Redis and wrk share LOAD_CPU.
        assert server.process is not None, "redis-server not started"
        pin_tree(server.process.pid, LOAD_CPU)
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        processes: dict[str, Process | HelperApi] = {}
        urls: dict[str, str] = {}
        try:
            for name, (argv, extra, ready) in variants.items():
                process: Process | HelperApi
                if argv[-1] == "api":
                    # The API engineers' own launcher (python -m api), which waits for /healthz.
                    api = ApiProcess(env=extra, api_key=api_key, log_path=scratch.log(name))
                    processes[name] = process = HelperApi(api)
                    api.start(timeout=60)
                    base = api.url
                else:
                    port = free_port()
                    process = Process(name, argv, base_env(PORT=str(port), **extra), scratch.log(name)).start()
                    processes[name] = process
                    base = f"http://127.0.0.1:{port}"
                wait_for(partial(http_ok, base + ready), 60, f"{name} {ready}", process)
                if name not in unpinned:
                    pin_tree(process.pid, SERVER_CPU)
                urls[name] = base + PATH
            for name, url in urls.items():  # warm-up, not recorded
                wrk(url, 1, api_key, pinned=name not in unpinned)
            empty_queues(server.url)
            order = list(variants)
            for round_index in range(rounds):
                shift = round_index % len(order)
                for name in order[shift:] + order[:shift]:
                    result = wrk(urls[name], seconds, api_key, processes[name].pid, pinned=name not in unpinned)
                    result["keys_deleted_after"] = empty_queues(server.url)
                    for process in processes.values():
                        process.check_alive()
                    samples[name].append(result)
                    time.sleep(0.5)
            if samples["api"][-1]["keys_deleted_after"] == 0:
                raise BenchmarkError("the API answered 202 but queued nothing in Redis; is it using REDIS_URL?")
        finally:
            for process in processes.values():
                process.stop()
    bare_rate = median([r["req_per_s"] for r in samples["bare"]])
    summary = []
    for name, runs in samples.items():
        rate = median([r["req_per_s"] for r in runs])
        summary.append({
            "variant": name,
            "median_req_per_s": rate,
            "ratio_vs_bare": ratio(rate, bare_rate),
            "median_p50_ms": median([r["p50_us"] / 1000 for r in runs]),
            "median_p99_ms": median([r["p99_us"] / 1000 for r in runs]),
            "median_server_cpu_ms_per_request": median([r["server_cpu_ms_per_request"] for r in runs]),
        })
    api_ratio = ratio(median([r["req_per_s"] for r in samples["api"]]), bare_rate)
    api_p99 = median([r["p99_us"] / 1000 for r in samples["api"]])
    table = markdown_table(
        ["endpoint", "median req/s", "× bare", "median p50 (ms)", "median p99 (ms)", "server CPU ms/request"],
        [[r["variant"], r["median_req_per_s"], r["ratio_vs_bare"], r["median_p50_ms"], r["median_p99_ms"],
          r["median_server_cpu_ms_per_request"]] for r in summary],
    )
    return {
        "name": "enqueue",
        "parameters": {"wrk": f"-t1 -c{CONNECTIONS} -d{seconds}s",
                       "pinning": f"server on CPU {SERVER_CPU}; wrk and redis-server on CPU {LOAD_CPU}; "
                                  f"unpinned rows: {sorted(unpinned)} (server and wrk not pinned)", "rounds": rounds, "path": PATH, "body": BODY,
                       "logs": str(scratch.path)},
        "samples": samples,
        "summary": summary,
        "target": {"what": f"API >= {TARGET_RATIO:.0%} of bare req/s", "measured": api_ratio,
                   "met": api_ratio >= TARGET_RATIO},
        "target_p99": {"what": f"API p99 < {TARGET_P99_MS:.0f} ms at {CONNECTIONS} connections",
                       "measured": api_p99, "met": api_p99 < TARGET_P99_MS},
        "table": table,
    }
