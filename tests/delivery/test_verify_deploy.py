"""scripts/verify_deploy.py against real processes: redis-server, the API, Celery workers."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from task_contract import TASKS

from tests.support.api_process import ApiProcess
from tests.support.redis_server import RedisServer
from tests.support.worker_process import WorkerProcess

ROOT = Path(__file__).resolve().parents[2]
VERIFY = ROOT / "scripts" / "verify_deploy.py"


def verify(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(VERIFY), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def local(api: ApiProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return verify("--api-url", api.url, "--api-key", api.api_key, *args)


def verify_module() -> Any:
    sys.path.insert(0, str(VERIFY.parent))
    try:
        import verify_deploy
    finally:
        sys.path.remove(str(VERIFY.parent))
    return verify_deploy


def test_probes_follow_the_task_contract() -> None:
    verify_deploy = verify_module()
    for queue, probe in verify_deploy.PROBES.items():
        assert TASKS[probe.task].queue == queue
        TASKS[probe.task].payload.model_validate(probe.payload)
    assert set(verify_deploy.PROBES) == {spec.queue for spec in TASKS.values()}


def test_passes_against_a_running_api_and_worker(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess], worker_factory: Callable[..., WorkerProcess]
) -> None:
    api = api_factory(redis_server)
    worker_factory(redis_server)
    started = time.monotonic()
    result = local(api)
    assert result.returncode == 0, result.stderr
    assert "verify: OK" in result.stdout and "all (high,default,low)" in result.stdout
    assert time.monotonic() - started < 30


def test_fails_naming_the_group_and_queue_when_the_worker_is_stopped(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess], worker_factory: Callable[..., WorkerProcess]
) -> None:
    api = api_factory(redis_server)
    worker = worker_factory(redis_server)
    worker.kill()
    result = local(api, "--timeout", "3")
    assert result.returncode == 1
    for queue in ("high", "default", "low"):
        assert f"worker group 'all' is not consuming queue '{queue}'" in result.stderr
    assert "still PENDING after 3 s" in result.stderr


def test_only_the_group_without_workers_fails(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess], worker_factory: Callable[..., WorkerProcess]
) -> None:
    api = api_factory(redis_server)
    worker_factory(redis_server, WORKER_QUEUES="high,default")
    result = local(api, "--group", "fast=high,default", "--group", "bulk=low", "--timeout", "3")
    assert result.returncode == 1
    assert result.stderr.count("FAILED") == 1
    assert "worker group 'bulk' is not consuming queue 'low'" in result.stderr


def test_a_wrong_key_and_a_missing_api_are_named(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    api = api_factory(redis_server)
    wrong = verify("--api-url", api.url, "--api-key", "not-a-key", "--timeout", "1")
    assert wrong.returncode == 1
    assert "401" in wrong.stderr and "refused the verify key" in wrong.stderr
    api.stop()
    gone = local(api)
    assert gone.returncode == 1
    assert f"API {api.url} unreachable" in gone.stderr


def test_an_api_that_lost_redis_is_not_ready(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    api = api_factory(redis_server)
    redis_server.stop()
    result = local(api)
    assert result.returncode == 1
    assert "API not ready: GET /readyz answered 503" in result.stderr


def fake_tools(tmp_path: Path, outputs: str) -> dict[str, str]:
    """`pulumi` and `gcloud` stand-ins on PATH answering what --stack mode asks."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "pulumi": f"""case "$*" in
  "stack output --json --stack dev") echo '{outputs}' ;;
  "config get gcp:project --stack dev") echo my-gcp-project-dev ;;
  *) echo "unexpected: pulumi $*" >&2; exit 9 ;;
esac""",
        "gcloud": """[ "$*" = "secrets versions access latest --secret=celery-dev-verify-key --project=my-gcp-project-dev" ] \
  && echo test-api-key || { echo "unexpected: gcloud $*" >&2; exit 9; }""",
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def test_stack_mode_reads_outputs_the_verify_key_and_the_stack_groups(
    tmp_path: Path, redis_server: RedisServer, api_factory: Callable[..., ApiProcess],
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    api = api_factory(redis_server)
    worker_factory(redis_server, WORKER_QUEUES="high,default")  # dev's `fast`; `bulk` (low) has no worker
    outputs = f'{{"api_url": "{api.url}", "secret_names": {{"verify-key": "celery-dev-verify-key"}}}}'
    result = verify("--stack", "dev", "--timeout", "3", env=fake_tools(tmp_path, outputs))
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("FAILED") == 1
    assert "worker group 'bulk' is not consuming queue 'low'" in result.stderr


def test_stack_mode_without_a_verify_key_says_what_to_deploy(tmp_path: Path) -> None:
    result = verify("--stack", "dev", env=fake_tools(tmp_path, '{"api_url": "http://x", "secret_names": {}}'))
    assert result.returncode == 2
    assert "exports no secret_names.verify-key" in result.stderr


def test_a_group_at_min_instances_zero_gets_the_longer_bounded_wait(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    verify_deploy = verify_module()
    api = api_factory(redis_server)
    groups = [verify_deploy.WorkerGroup("fast", ("high",), 1), verify_deploy.WorkerGroup("idle", ("low",), 0)]
    started = time.monotonic()
    failures = verify_deploy.Verifier(api.url, api.api_key, {}, poll_interval=0.2).run(groups, 1, 4)
    assert any("'fast' is not consuming queue 'high'" in f and "after 1 s" in f for f in failures)
    assert any("'idle' is not consuming queue 'low'" in f and "after 4 s" in f for f in failures)
    assert 4 <= time.monotonic() - started < 15
