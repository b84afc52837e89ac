"""Redis commands per task, end to end: N ``add`` tasks submitted through the API, run by one
worker, each result read once through the API. ``INFO commandstats`` deltas over the run.

Run: ``.venv/bin/python -m benchmarks.redis_ops_per_task [N]`` (docs/scaling.md).
"""

from __future__ import annotations

import json
import secrets
import sys
import time
import urllib.request
from typing import Any

from benchmarks.stack import PYTHON, Process, ScratchDir, base_env, http_ok, private_redis, wait_for
from tests.support.ports import free_port


def calls(client: Any) -> dict[str, int]:
    stats = client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def request(method: str, url: str, key: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {key}"})
    if data:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as response:
        return json.loads(response.read())


def main(n: int) -> None:
    key, port, scratch = secrets.token_urlsafe(12), free_port(), ScratchDir()
    with private_redis() as server:
        env = base_env(REDIS_URL=server.url, LOG_LEVEL="WARNING")
        api = Process("api", [PYTHON, "-m", "api"], {**env, "PORT": str(port), "API_KEYS": key},
                      scratch.log("api")).start()
        worker = Process("worker", [PYTHON, "-m", "worker"], {**env, "PORT": str(free_port())},
                         scratch.log("worker")).start()
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for(lambda: http_ok(url + "/readyz"), 60, "the API", api)
            client = server.client()
            time.sleep(3)  # the worker connects and settles into its idle loop
            idle_before, t0 = calls(client), time.monotonic()
            time.sleep(5)
            idle = {k: v - idle_before.get(k, 0) for k, v in calls(client).items()}
            idle_per_s = (sum(idle.values()) - idle.get("info", 0)) / (time.monotonic() - t0)
            before, start = calls(client), time.monotonic()
            ids = [request("POST", f"{url}/v1/tasks/add", key, {"x": 1, "y": 2})["task_id"] for _ in range(n)]
            for task_id in ids:
                while request("GET", f"{url}/v1/tasks/{task_id}", key)["state"] != "SUCCESS":
                    time.sleep(0.05)
            elapsed = time.monotonic() - start
            delta = {k: v - before.get(k, 0) for k, v in calls(client).items()}
            delta.pop("info", None)
            total = sum(delta.values()) - idle_per_s * elapsed
            print(json.dumps({"tasks": n, "seconds": round(elapsed, 1), "idle_ops_per_s": round(idle_per_s, 1),
                              "ops_per_task": round(total / n, 1),
                              "by_command": dict(sorted(delta.items(), key=lambda kv: -kv[1])[:12])}, indent=1))
        finally:
            api.stop()
            worker.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
