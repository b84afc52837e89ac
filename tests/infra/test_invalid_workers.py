"""Bad ``workers`` values (infra/settings/workers.py) fail before any resource is declared."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.invalid_config import (
    assert_refused_before_any_resource,
    dev_value,
    with_worker,
)


# (stack, overrides, fragments the message must contain)
CASES: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "worker min greater than max": (
        "dev",
        with_worker(0, minInstances=3, maxInstances=2),
        [
            "workers[0].minInstances: got 3; allowed: at most workers[0].maxInstances (2)"
        ],
    ),
    "memory too small for four CPUs": (
        "dev",
        with_worker(1, cpu=4, memory="1Gi"),
        ["workers[1].memory: got '1Gi'; allowed: 2048Mi to 16Gi with cpu 4"],
    ),
    "worker with zero instances": (
        "dev",
        with_worker(0, minInstances=0),
        ["workers[0].minInstances: got 0; allowed: at least 1 without queue-depth autoscaling"],
    ),
    "worker pool type the worker image refuses": (
        "dev",
        with_worker(0, pool="gevent"),
        ["workers[0].pool: got 'gevent'; allowed: threads | prefork"],
    ),
    "worker pool behind a connector": (
        "dev",
        with_worker(1, kind="workerPool"),
        [
            "workers[1].kind: got 'workerPool'; allowed: service, or workerPool together with network.egress: direct"
        ],
    ),
    "queue consumed by two groups": (
        "dev",
        with_worker(1, queues=["low", "default"]),
        [
            "workers[1].queues: got 'default'; allowed: a queue not already consumed by worker group 'fast'"
        ],
    ),
    "queue not in the task catalog": (
        "dev",
        with_worker(1, queues=["emails"]),
        [
            "workers[1].queues: got 'emails'; allowed: queues of the task catalog: high, default, low",
        ],
    ),
    "catalog queue nobody consumes": (
        "dev",
        with_worker(0, queues=["high"]),
        [
            "workers: got \"no group consumes 'default'\"; allowed: every queue of the task catalog "
            "(high, default, low) in exactly one group's queues; add 'default' to one",
        ],
    ),
    "queue typo leaves its catalog queue unconsumed": (
        "dev",
        with_worker(1, queues=["lwo"]),
        [
            "workers[1].queues: got 'lwo'; allowed: queues of the task catalog",
            "workers: got \"no group consumes 'low'\"",
        ],
    ),
    "worker group name": (
        "dev",
        with_worker(0, name="Fast!"),
        ["workers[0].name: got 'Fast!'; allowed: 1-10 chars of a-z 0-9"],
    ),
    "no worker groups": (
        "dev",
        {"workers": []},
        ["workers: got []; allowed: a non-empty list of worker groups"],
    ),
    "worker pool without autoscaling with maxInstances": (
        "prod",
        {
            "workers": [
                *dev_value("workers")[:1],
                {**dev_value("workers")[1], "kind": "workerPool", "autoscaling": "none", "maxInstances": 3},
            ]
        },
        [
            "workers[1].maxInstances: got 3; allowed: unset: a worker pool without autoscaling runs "
            "minInstances instances; maxInstances is the autoscaler's maximum with autoscaling: queueDepth"
        ],
    ),
    "worker pool with a request knob": (
        "prod",
        {"workers": [*dev_value("workers")[:1], {"name": "bulk", "queues": ["low"], "kind": "workerPool", "requestTimeoutSeconds": 60}]},
        [
            "workers[1].requestTimeoutSeconds: got 60; allowed: unset: a worker pool serves no requests"
        ],
    ),
    "worker request timeout": (
        "dev",
        with_worker(0, requestTimeoutSeconds=0),
        ["workers[0].requestTimeoutSeconds: got 0; allowed: an integer from 1 to 3600"],
    ),
    "worker group named like the API": (
        "dev",
        with_worker(1, name="api"),
        ["workers[1].name: got 'api'; allowed: a name other than 'api'"],
    ),
    "every worker group can scale to zero: no exporter of the queue gauges": (
        "prod",
        {
            "workers": [
                {"name": name, "queues": [queue], "kind": "workerPool", "minInstances": 0, "maxInstances": 5}
                for name, queue in (("hi", "high"), ("mid", "default"), ("lo", "low"))
            ]
        },
        ["workers[].minInstances: got [0, 0, 0]; allowed: at least 1 on one worker group", "QueueMetricsAbsent"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: c.replace(" ", "-"))
def test_bad_value_fails_before_any_resource(case: str) -> None:
    assert_refused_before_any_resource(*CASES[case])
