"""The rendered API and worker Deployments, run with ``podman kube play`` against a local Redis.

Rendered by the program's own manifest functions (tests/kubernetes/rendered.py), changed only by
the listed rewrite (podman_rewrite.REWRITES). The test requests the probe paths itself and stops
the worker pod with ``podman pod stop -t <terminationGracePeriodSeconds from the manifest>``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.containers.test_containers import (
    API_KEY,
    queued_messages,
    status_of,
    submit,
    task_state,
    unacked_messages,
    wait_for_state,
)
from tests.infra.harness import stack_config
from tests.kubernetes.podman_rewrite import rewrite_for_podman
from tests.kubernetes.rendered import render
from tests.support.podman import Podman
from tests.support.ports import free_port, wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.slow

PREFIX = "k12"  # distinct pod names: the container tests run podman on this machine too
HEALTHY_WITHIN_SECONDS = 90


def gke_grace_seconds() -> int:
    config, _ = stack_config("gke")
    return int(json.loads(config["cloudrun-celery:gke"])["workerGracePeriodSeconds"])


class Pod:
    def __init__(self, podman: Podman, manifest: dict[str, Any], path: Path, port: int) -> None:
        self.podman, self.manifest, self.path, self.port = podman, manifest, path, port
        # podman 4.3 names a Deployment's pod <name>-pod-0 and its container <pod>-<container>.
        self.name = f"{manifest['metadata']['name']}-pod-0"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def play(self) -> None:
        self.path.write_text(yaml.safe_dump(self.manifest))
        self.podman.run("pod", "rm", "--force", "--ignore", self.name)
        self.podman.run("kube", "play", str(self.path), timeout=180)

    def container(self) -> str:
        return f"{self.name}-{self.manifest['spec']['template']['spec']['containers'][0]['name']}"

    def exec(self, *command: str) -> str:
        return self.podman.run("exec", self.container(), *command).stdout

    def logs(self) -> str:
        result = self.podman.run("logs", self.container(), check=False)
        return (result.stdout + result.stderr)[-6000:]

    def stop(self, grace: int) -> tuple[float, int]:
        started = time.monotonic()
        self.podman.run("pod", "stop", "--time", str(grace), self.name, timeout=grace + 60)
        elapsed = time.monotonic() - started
        code = self.podman.run("inspect", "--format", "{{.State.ExitCode}}", self.container()).stdout.strip()
        return elapsed, int(code)

    def wait_for(self, path: str) -> None:
        wait_until(lambda: status_of(self.url + path) == 200, HEALTHY_WITHIN_SECONDS,
                   f"{self.name} {path} 200:\n{self.logs()}", interval=0.25)


@pytest.fixture
def pods(podman: Podman, images: dict[str, str], redis_server: RedisServer, tmp_path: Path) -> Iterator[dict[str, Any]]:
    rendered = render(images, grace_seconds=gke_grace_seconds(), time_limit=60, prefix=PREFIX)
    secrets = {"redis-url": redis_server.url, "api-keys": API_KEY}
    out: dict[str, Any] = {"rendered": rendered}
    for role in ("api", "worker"):
        port = free_port()
        manifest = rewrite_for_podman(rendered[role], secrets, tmp_path / f"{role}-secrets", port)
        out[role] = Pod(podman, manifest, tmp_path / f"{role}.yaml", port)
    yield out
    for role in ("api", "worker"):
        print(f"----- logs of {out[role].name} -----\n{out[role].logs()}")
        podman.run("pod", "rm", "--force", "--time", "0", "--ignore", out[role].name, check=False)


def test_rendered_pods_serve_a_task_and_a_stopped_worker_loses_none(pods: dict[str, Any], redis_server: RedisServer) -> None:
    api, worker = pods["api"], pods["worker"]
    worker_spec = pods["rendered"]["worker"]["spec"]["template"]["spec"]
    grace = worker_spec["terminationGracePeriodSeconds"]
    api.play()
    worker.play()
    # The probes podman ignores, requested as the kubelet would.
    container = worker_spec["containers"][0]
    worker.wait_for(container["livenessProbe"]["httpGet"]["path"])
    worker.wait_for(container["readinessProbe"]["httpGet"]["path"])
    api_container = pods["rendered"]["api"]["spec"]["template"]["spec"]["containers"][0]
    api.wait_for(api_container["readinessProbe"]["httpGet"]["path"])
    api.wait_for(api_container["livenessProbe"]["httpGet"]["path"])

    # The securityContext podman applies: the app user, a read-only root, a writable /tmp.
    for pod in (api, worker):
        assert pod.exec("id", "-u").strip() == "10001"
        assert pod.exec("sh", "-c", "touch /probe 2>&1; echo rc=$?").strip().endswith("rc=1")
        assert pod.exec("sh", "-c", "touch /tmp/probe; echo rc=$?").strip().endswith("rc=0")

    task_id = submit(api, "add", {"x": 2, "y": 3})
    result = wait_for_state(api, task_id, {"SUCCESS", "FAILURE"}, timeout=30)
    assert result["state"] == "SUCCESS" and result["result"] == 5, result

    busy = submit(api, "external_call", {"latency_seconds": 15})
    wait_until(lambda: queued_messages(redis_server, "default") == 0 and unacked_messages(redis_server) == 1,
               30, "the worker pod to take the task")
    time.sleep(1)
    elapsed, code = worker.stop(grace)
    assert code == 0, f"worker exited {code} (137: killed at the {grace}s grace period):\n{worker.logs()}"
    assert elapsed < grace, f"the worker took {elapsed:.1f}s of its {grace}s grace period"
    assert task_state(api, busy)["state"] != "SUCCESS"
    assert queued_messages(redis_server, "default") == 1, "the interrupted task is back on its queue"
    assert unacked_messages(redis_server) == 0

    worker.play()
    worker.wait_for("/healthz")
    result = wait_for_state(api, busy, {"SUCCESS", "FAILURE"}, timeout=60)
    assert result["state"] == "SUCCESS", result
