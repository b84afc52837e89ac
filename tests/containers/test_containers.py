"""Both images, built with podman and run as Cloud Run runs them.

- ``PORT`` set (to a free port, with host networking), no ``--init``: the app is PID 1.
- Shutdown is ``podman stop -t 10``: SIGTERM, then SIGKILL 10 s later, like Cloud Run.
- Redis is a real redis-server on the host with AUTH, as Memorystore has.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from task_contract.queues import queue_keys

from tests.support.podman import Container, Podman
from tests.support.ports import free_port, wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.slow

API_KEY = "container-test-key"
APP_UID = 10001
# Cloud Run's grace period between SIGTERM and SIGKILL.
GRACE_SECONDS = 10
# Cold start on two shared cores: imports, broker connection, first consumer loop.
HEALTHY_WITHIN_SECONDS = 90


@dataclass
class Running:
    container: Container
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def http(method: str, url: str, body: Any = None, token: str | None = API_KEY,
         timeout: float = 5) -> tuple[int, Any]:
    """(status, parsed JSON or text) for one request; HTTP errors are answers, not exceptions."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def status_of(url: str) -> int:
    try:
        return http("GET", url, token=None, timeout=2)[0]
    except OSError:
        return 0


Start = Callable[..., Running]


@pytest.fixture
def start(podman: Podman, images: dict[str, str], redis_server: RedisServer) -> Iterator[Start]:
    """``start("api"|"worker", redis=..., volumes=..., **env)``: a container on a free ``$PORT``.

    It talks to ``redis`` (default: the test's AUTH redis-server) and is removed at teardown.
    """
    started: list[Running] = []

    def run(service: str, redis: RedisServer | None = None, volumes: Sequence[str] = (), **env: str) -> Running:
        port = free_port()
        redis = redis or redis_server
        environment = {"PORT": str(port), "REDIS_URL": redis.url, "LOG_LEVEL": "INFO", **env}
        if service == "api":
            environment.setdefault("API_KEYS", API_KEY)
        name = f"cloudrun-celery-test-{service}-{uuid.uuid4().hex[:8]}"
        extra_args = [arg for volume in volumes for arg in ("--volume", volume)]
        running = Running(podman.run_container(images[service], name, environment, extra_args), port)
        started.append(running)
        return running

    yield run
    for running in started:
        # Shown by pytest only when the test failed.
        print(f"----- logs of {running.container.name} -----\n{running.container.logs()}")
        running.container.remove()


def wait_healthy(running: Running, path: str = "/healthz") -> None:
    def healthy() -> bool:
        if not running.container.running:
            raise AssertionError(
                f"{running.container.name} exited {running.container.exit_code} before it became healthy:\n"
                f"{running.container.logs()}"
            )
        return status_of(running.url + path) == 200

    deadline = time.monotonic() + HEALTHY_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if healthy():
            return
        time.sleep(0.25)
    raise AssertionError(
        f"{running.container.name} {path} not 200 within {HEALTHY_WITHIN_SECONDS}s:\n{running.container.logs()}"
    )


@pytest.fixture
def api(start: Start) -> Running:
    running = start("api")
    wait_healthy(running, "/readyz")
    return running


@pytest.fixture
def worker(start: Start) -> Running:
    running = start("worker")
    wait_healthy(running)
    return running


def submit(api: Running, task: str, payload: dict[str, Any]) -> str:
    status, body = http("POST", f"{api.url}/v1/tasks/{task}", payload)
    assert status == 202, (status, body)
    return str(body["task_id"])


def task_state(api: Running, task_id: str) -> dict[str, Any]:
    status, body = http("GET", f"{api.url}/v1/tasks/{task_id}")
    assert status == 200, (status, body)
    assert isinstance(body, dict)
    return body


def wait_for_state(api: Running, task_id: str, states: set[str], timeout: float) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def reached() -> bool:
        seen.update(task_state(api, task_id))
        return seen.get("state") in states

    wait_until(reached, timeout, f"task {task_id} to reach {sorted(states)} (last seen {seen})", interval=0.2)
    return seen


def assert_runs_as_app_user_as_pid_1(running: Running, module: str) -> None:
    container = running.container
    assert container.inspect("{{.Config.User}}") == f"{APP_UID}:{APP_UID}"
    assert container.inspect("{{.HostConfig.Init}}") == "false", "Cloud Run injects no init process"
    # Cloud Run always sends SIGTERM; an image STOPSIGNAL would make `podman stop` test another signal.
    assert container.inspect("{{.Config.StopSignal}}") == "15", "podman stop must send SIGTERM"
    # PID 1 is the app itself (exec-form entrypoint), running as the app user, not root.
    cmdline = container.exec("cat", "/proc/1/cmdline").split("\0")
    assert cmdline[:3] == ["/opt/venv/bin/python", "-m", module], cmdline
    status = container.exec("cat", "/proc/1/status")
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert uids == [str(APP_UID)] * 4, f"PID 1 real/effective/saved/fs UIDs: {uids}"
    assert container.exec("id", "-u").strip() == str(APP_UID)


def test_both_run_as_non_root_with_the_app_as_pid_1_and_answer_health(api: Running, worker: Running) -> None:
    assert_runs_as_app_user_as_pid_1(api, "api")
    assert_runs_as_app_user_as_pid_1(worker, "worker")
    assert status_of(f"{api.url}/healthz") == 200
    assert status_of(f"{api.url}/readyz") == 200
    assert status_of(f"{worker.url}/healthz") == 200
    # The code is read-only for the app user.
    write = api.container.podman.run("exec", api.container.name, "touch", "/opt/venv/probe", check=False)
    assert write.returncode != 0, "the app user can write to /opt/venv"


def test_a_task_goes_through_both_containers_and_back(api: Running, worker: Running) -> None:
    assert http("POST", f"{api.url}/v1/tasks/add", {"x": 2, "y": 3}, token="wrong-key")[0] == 401
    task_id = submit(api, "add", {"x": 2, "y": 3})
    result = wait_for_state(api, task_id, {"SUCCESS", "FAILURE"}, timeout=30)
    assert result["state"] == "SUCCESS", result
    assert result["result"] == 5, result


def stop_and_check_clean_exit(running: Running) -> float:
    elapsed = running.container.stop(GRACE_SECONDS)
    exit_code = running.container.exit_code
    assert exit_code == 0, (
        f"{running.container.name} exited {exit_code} on SIGTERM (137 = killed at the {GRACE_SECONDS}s deadline):\n"
        f"{running.container.logs()}"
    )
    assert elapsed < GRACE_SECONDS, f"{running.container.name} took {elapsed:.1f}s to stop"
    return elapsed


def test_sigterm_stops_both_cleanly_when_idle(api: Running, worker: Running) -> None:
    stop_and_check_clean_exit(api)
    stop_and_check_clean_exit(worker)


SERVING_PROCESSES = (
    "import os\n"
    "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
    "    try:\n"
    "        cmd = open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode()\n"
    "    except OSError:\n"
    "        continue\n"
    "    if 'spawn_main' in cmd and 'resource_tracker' not in cmd:\n"
    "        print(pid)\n"
)


def test_api_with_two_serving_processes_stops_its_whole_tree_on_sigterm(
    start: Start, redis_server: RedisServer
) -> None:
    # api.cpu 2 -> WEB_CONCURRENCY=2 (infra): uvicorn's supervisor is PID 1 with two serving processes.
    api = start("api", WEB_CONCURRENCY="2")
    wait_healthy(api, "/readyz")
    serving = api.container.exec("/opt/venv/bin/python", "-c", SERVING_PROCESSES).split()
    assert len(serving) == 2, serving
    for _ in range(10):
        submit(api, "add", {"x": 1, "y": 2})
    assert queued_messages(redis_server, "high") == 10
    # podman stop -t 10: SIGTERM to PID 1, SIGKILL at 10 s; exit 0 means every child stopped in time.
    stop_and_check_clean_exit(api)


def queued_messages(redis: RedisServer, queue: str) -> int:
    """Messages waiting in ``queue``, counting kombu's priority sub-lists (docs/broker-durability.md)."""
    client = redis.client()
    return sum(int(client.llen(name)) for name in queue_keys(queue))


def unacked_messages(redis: RedisServer) -> int:
    """Messages a worker has taken and not acked yet (kombu's Redis transport keeps them in ``unacked``)."""
    return int(redis.client().hlen("unacked"))


def test_worker_stopped_mid_task_requeues_it_for_the_next_worker(
    api: Running, worker: Running, start: Start, redis_server: RedisServer
) -> None:
    # Longer than the whole grace period: the worker cannot finish it, so it must requeue it.
    task_id = submit(api, "external_call", {"latency_seconds": 20})
    # Taken by the worker (off the queue, unacked), whether or not STARTED is tracked.
    wait_until(lambda: queued_messages(redis_server, "default") == 0 and unacked_messages(redis_server) == 1,
               30, "the worker to take the task")
    time.sleep(1)

    stop_and_check_clean_exit(worker)
    assert task_state(api, task_id)["state"] != "SUCCESS"
    assert queued_messages(redis_server, "default") == 1, "the interrupted task is back on its queue"
    assert unacked_messages(redis_server) == 0

    replacement = start("worker")
    wait_healthy(replacement)
    result = wait_for_state(api, task_id, {"SUCCESS", "FAILURE"}, timeout=60)
    assert result["state"] == "SUCCESS", result
    stop_and_check_clean_exit(replacement)


def test_tls_redis_with_the_ca_mounted_as_on_cloud_run(
    start: Start, redis_factory: Callable[..., RedisServer]
) -> None:
    """Memorystore with in-transit encryption: rediss:// and its CA mounted from Secret Manager as a file."""
    redis = redis_factory(password="container-test-auth", tls=True)
    assert redis.tls_files is not None
    ca_mount = "/secrets/redis-ca/ca.pem"
    tls = {"redis": redis, "volumes": [f"{redis.tls_files.ca}:{ca_mount}:ro"], "REDIS_CA_FILE": ca_mount}
    api, worker = start("api", **tls), start("worker", **tls)
    wait_healthy(api, "/readyz")
    wait_healthy(worker)
    task_id = submit(api, "add", {"x": 40, "y": 2})
    result = wait_for_state(api, task_id, {"SUCCESS", "FAILURE"}, timeout=30)
    assert (result["state"], result["result"]) == ("SUCCESS", 42), result
