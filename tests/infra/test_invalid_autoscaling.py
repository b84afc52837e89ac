"""Bad queue-depth autoscaling values (``workers[]`` and ``autoscaler``, infra/settings/autoscaling.py)
fail before any resource is declared.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.harness import stack_config
from tests.infra.invalid_config import assert_refused_before_any_resource, with_worker


def with_prod_worker(index: int, **fields: Any) -> dict[str, Any]:
    config, _ = stack_config("prod")
    workers = json.loads(config["cloudrun-celery:workers"])
    workers[index] = {**workers[index], **fields}
    return {"workers": workers}


BULK = 1  # prod's autoscaled worker pool (queue low)
IMAGE = "us-central1-docker.pkg.dev/cloud-run-oss-images/crema-v1/autoscaler"

# (stack, overrides, fragments the message must contain)
CASES: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "autoscaled pool with AUTOMATIC scaling": (
        "prod",
        with_prod_worker(BULK, scalingMode="AUTOMATIC"),
        ["workers[1].scalingMode: got 'AUTOMATIC'; allowed: MANUAL with autoscaling: queueDepth"],
    ),
    "queue-depth autoscaling on a service": (
        "dev",
        with_worker(1, autoscaling="queueDepth"),
        ["workers[1].autoscaling: got 'queueDepth'; allowed: none on a group with kind: service", "kind: workerPool"],
    ),
    "autoscaling target of 0": (
        "prod",
        with_prod_worker(BULK, targetPerInstance=0),
        ["workers[1].targetPerInstance: got 0; allowed: an integer from 1 to 100000"],
    ),
    "autoscaled min above max": (
        "prod",
        with_prod_worker(BULK, minInstances=5, maxInstances=2),
        ["workers[1].minInstances: got 5; allowed: at most workers[1].maxInstances (2)"],
    ),
    "zero instances without autoscaling": (
        "prod",
        with_prod_worker(BULK, autoscaling="none"),
        ["workers[1].minInstances: got 0; allowed: at least 1 without queue-depth autoscaling"],
    ),
    "autoscaled group whose count could not be exact": (
        "prod",
        {
            "workers": [
                {"name": "fast", "queues": ["high"]},
                {"name": "bulk", "queues": ["default", "low"], "kind": "workerPool", "minInstances": 0},
            ]
        },
        [
            'workers[1].queues: got ["default", "low"]; allowed: exactly one queue with autoscaling: queueDepth',
            "split the group",
        ],
    ),
    "target without autoscaling": (
        "dev",
        with_worker(0, targetPerInstance=10),
        ["workers[0].targetPerInstance: got 10; allowed: only with autoscaling: queueDepth"],
    ),
    "autoscaler image at latest": (
        "prod",
        {"autoscaler": {"image": f"{IMAGE}:latest"}},
        ["autoscaler.image: got", ":latest'; allowed: an image pinned by version tag or @sha256 digest"],
    ),
    "autoscaler image untagged": (
        "prod",
        {"autoscaler": {"image": IMAGE}},
        ["autoscaler.image: got", "allowed: an image pinned by version tag or @sha256 digest"],
    ),
    "autoscaler polling interval": (
        "prod",
        {"autoscaler": {"pollingIntervalSeconds": 0}},
        ["autoscaler.pollingIntervalSeconds: got 0; allowed: an integer from 5 to 600"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: c.replace(" ", "-"))
def test_bad_value_fails_before_any_resource(case: str) -> None:
    assert_refused_before_any_resource(*CASES[case])
