"""The ScaledObject's trigger counts a real backlog published through the API.

The API (a real ``python -m api``, no worker) publishes tasks to a real redis-server; the key the
rendered ScaledObject names holds them, and KEDA's ``AverageValue`` arithmetic on it gives the
replica count. Interim: the key is the queue's list until the shared scaling spec (work ledger,
infra/autoscaling) is on main; then this test reads the ledger the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from benchmarks.stack import PYTHON, Process, ScratchDir, base_env, http_ok, wait_for
from tests.containers.test_containers import http
from tests.infra.harness import ProgramRun
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer

KEY = "keda-backlog-test-key"


@pytest.fixture
def api_url(redis_server: RedisServer) -> Iterator[str]:
    port = free_port()
    scratch = ScratchDir()
    api = Process("api", [PYTHON, "-m", "api"],
                  base_env(REDIS_URL=redis_server.url, API_KEYS=KEY, PORT=str(port), LOG_LEVEL="WARNING"),
                  scratch.log("api")).start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_ok(url + "/readyz"), 60, "the API", api)
        yield url
    finally:
        api.stop()


def test_scaled_object_counts_the_backlog_published_through_the_api(
    gke: ProgramRun, redis_server: RedisServer, api_url: str
) -> None:
    (bulk,) = [s for s in gke.of_type("kubernetes:keda.sh/v1alpha1:ScaledObject")
               if s.inputs["spec"]["scaleTargetRef"]["name"] == "worker-bulk"]
    spec = bulk.inputs["spec"]
    (trigger,) = spec["triggers"]
    target = int(trigger["metadata"]["listLength"])
    backlog = target + 1
    for _ in range(backlog):
        status, body = http("POST", f"{api_url}/v1/tasks/flaky", {"fail_times": 0}, token=KEY)
        assert status == 202, body
    key = trigger["metadata"]["listName"]
    client = redis_server.client()
    # KEDA's redis scaler reads the key's TYPE: ZCARD for the work ledger (a sorted set).
    counted = int(client.zcard(key) if client.type(key) == b"zset" else client.llen(key))
    assert counted == backlog
    desired = min(spec["maxReplicaCount"], max(spec["minReplicaCount"], math.ceil(counted / target)))
    assert desired == 2
