"""Resizing is an edit of Pulumi.<stack>.yaml; only the matching properties change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra import inventory
from tests.infra.harness import PROJECT_ROOT, ProgramRun, run_program_full

API = "cloudrun-celery:infra:ApiService$gcp:cloudrunv2/service:Service::api"
REDIS = "cloudrun-celery:infra:Broker$gcp:redis/instance:Instance::redis"
FAST = "cloudrun-celery:infra:WorkerService$gcp:cloudrunv2/service:Service::worker-fast"


def edited_prod(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    document = yaml.safe_load((PROJECT_ROOT / "Pulumi.prod.yaml").read_text())
    edit(document["config"])
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def set_api_max(config: dict[str, Any]) -> None:
    config["cloudrun-celery:api"]["maxInstances"] = 40


def set_api_concurrency(config: dict[str, Any]) -> None:
    config["cloudrun-celery:api"]["concurrency"] = 150


def set_redis_size(config: dict[str, Any]) -> None:
    config["cloudrun-celery:redis"]["memorySizeGb"] = 10


def set_fast_worker_memory(config: dict[str, Any]) -> None:
    config["cloudrun-celery:workers"][0]["memory"] = "4Gi"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            set_api_max,
            {f"resources.{API}.inputs.template.scaling.maxInstanceCount": (20, 40)},
        ),
        (
            set_api_concurrency,
            {
                f"resources.{API}.inputs.template.maxInstanceRequestConcurrency": (80, 150),
                f"resources.{API}.inputs.template.containers[0].envs[{{redis_max_env}}].value": ("100", "170"),
            },
        ),
        (set_redis_size, {f"resources.{REDIS}.inputs.memorySizeGb": (5, 10)}),
        (
            set_fast_worker_memory,
            {
                f"resources.{FAST}.inputs.template.containers[0].resources.limits.memory": (
                    "2Gi",
                    "4Gi",
                )
            },
        ),
    ],
    ids=["api-max-instances", "api-concurrency", "redis-memory", "worker-memory"],
)
def test_one_value_changes_only_its_properties(
    tmp_path: Path,
    prod: ProgramRun,
    edit: Callable[[dict[str, Any]], None],
    expected: dict[str, tuple[Any, Any]],
) -> None:
    resized = run_program_full("prod", config_path=edited_prod(tmp_path, edit))
    # The env list grows as the runtime contract does: find REDIS_MAX_CONNECTIONS by name.
    envs = prod.named("gcp:cloudrunv2/service:Service", "api").inputs["template"]["containers"][0]["envs"]
    index = next(i for i, env in enumerate(envs) if env["name"] == "REDIS_MAX_CONNECTIONS")
    expected = {key.format(redis_max_env=index): change for key, change in expected.items()}
    assert (
        inventory.changes(inventory.build(prod), inventory.build(resized)) == expected
    )


def test_unchanged_copy_changes_nothing(tmp_path: Path, prod: ProgramRun) -> None:
    copy = run_program_full(
        "prod", config_path=edited_prod(tmp_path, lambda config: None)
    )
    assert inventory.changes(inventory.build(prod), inventory.build(copy)) == {}
