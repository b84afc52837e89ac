"""The README's first deploy, executed as written against recording fakes of `pulumi` and `gcloud`.

The block after ``<!-- first-deploy -->`` runs in bash from the repository root; its last step,
the verify command, reaches a real API and worker on a real Redis.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.delivery.fake_cli import install
from tests.support.api_process import ApiProcess
from tests.support.redis_server import RedisServer
from tests.support.worker_process import WorkerProcess

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- first-deploy -->"


def first_deploy_block() -> str:
    text = (ROOT / "README.md").read_text()
    assert text.count(MARKER) == 1, f"the README must mark its first-deploy block with {MARKER} once"
    after = text.split(MARKER, 1)[1].lstrip("\n")
    assert after.startswith("```sh\n"), f"a ```sh block must follow {MARKER}"
    return after.removeprefix("```sh\n").split("\n```", 1)[0]


def run_block(block: str, tmp_path: Path, api: ApiProcess | None) -> tuple[subprocess.CompletedProcess[str],
                                                                         list[list[str]]]:
    install(tmp_path / "bin")
    log = tmp_path / "calls.jsonl"
    env = {
        **os.environ,
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "FAKE_CLI_LOG": str(log),
        "FAKE_CLI_STATE": str(tmp_path / "state.json"),
        "FAKE_API_URL": api.url if api else "http://127.0.0.1:9",
        "FAKE_VERIFY_KEY": api.api_key if api else "unused",
    }
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=180)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def position(calls: list[list[str]], *prefix: str) -> int:
    matches = [i for i, call in enumerate(calls) if call[: len(prefix)] == list(prefix)]
    assert matches, f"the README never runs {' '.join(prefix)}; it ran {calls}"
    return matches[0]


def test_the_first_deploy_runs_in_order_and_verifies(
    tmp_path: Path, redis_server: RedisServer, api_factory: Callable[..., ApiProcess],
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    api = api_factory(redis_server)
    worker_factory(redis_server)
    result, calls = run_block(first_deploy_block(), tmp_path, api)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verify: OK" in result.stdout
    up = position(calls, "pulumi", "up")
    assert position(calls, "gcloud", "auth", "application-default", "login") < up
    assert position(calls, "gcloud", "auth", "configure-docker") < up
    assert position(calls, "pulumi", "login") < position(calls, "pulumi", "stack", "select") < up
    assert position(calls, "pulumi", "stack", "select") < position(calls, "pulumi", "config", "set")
    assert position(calls, "pulumi", "config", "set", "--secret", "cloudrun-celery:apiKeys") < up
    assert position(calls, "pulumi", "config", "set", "--secret", "cloudrun-celery:verifyKey") < up
    assert position(calls, "pulumi", "install") < up
    assert up < position(calls, "pulumi", "stack", "output")


def test_the_fake_refuses_a_deploy_missing_a_step(tmp_path: Path) -> None:
    # Without the API keys line the deploy would leave an API that cannot start: the fake says so.
    block = "\n".join(line for line in first_deploy_block().splitlines() if "apiKeys" not in line)
    result, _ = run_block(block, tmp_path, None)
    assert result.returncode != 0
    assert "up before cloudrun-celery:apiKeys (as a secret) was set" in result.stderr


def test_the_fake_refuses_config_before_a_stack_is_selected(tmp_path: Path) -> None:
    block = "\n".join(line for line in first_deploy_block().splitlines() if "stack select" not in line)
    result, _ = run_block(block, tmp_path, None)
    assert result.returncode != 0
    assert "no stack selected" in result.stderr


def test_without_the_verify_key_the_verify_step_says_what_is_missing(
    tmp_path: Path, redis_server: RedisServer, api_factory: Callable[..., ApiProcess]
) -> None:
    api = api_factory(redis_server)
    block = "\n".join(line for line in first_deploy_block().splitlines() if "verifyKey" not in line)
    result, _ = run_block(block, tmp_path, api)
    assert result.returncode == 2
    assert "exports no secret_names.verify-key" in result.stderr
