"""Every bad stack value fails before any resource is declared, naming key, value and what is allowed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.harness import ProgramError, Secret, run_program_full, stack_config


def dev_value(key: str) -> Any:
    config, _ = stack_config("dev")
    return json.loads(config[f"cloudrun-celery:{key}"])


def with_field(key: str, **fields: Any) -> dict[str, Any]:
    """The dev stack's object ``key`` with some fields changed."""
    return {key: {**dev_value(key), **fields}}


def with_connector(**fields: Any) -> dict[str, Any]:
    network = dev_value("network")
    return {"network": {**network, "connector": {**network["connector"], **fields}}}


def with_schedule(**fields: Any) -> dict[str, Any]:
    schedules = dev_value("schedules")
    schedules[0] = {**schedules[0], **fields}
    return {"schedules": schedules}


def with_worker(index: int, **fields: Any) -> dict[str, Any]:
    workers = dev_value("workers")
    workers[index] = {**workers[index], **fields}
    return {"workers": workers}


def with_prod_worker(index: int, **fields: Any) -> dict[str, Any]:
    config, _ = stack_config("prod")
    workers = json.loads(config["cloudrun-celery:workers"])
    workers[index] = {**workers[index], **fields}
    return {"workers": workers}


BULK = 1  # prod's autoscaled worker pool (queue low)
IMAGE = "us-central1-docker.pkg.dev/cloud-run-oss-images/crema-v1/autoscaler"

# (stack, overrides, fragments the message must contain)
CASES: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "unknown top-level key": (
        "dev",
        {"redisTier": "BASIC"},
        ["cloudrun-celery:redisTier: got 'BASIC'; allowed: one of the keys", "redis"],
    ),
    "unknown nested key": (
        "dev",
        with_field("api", maxInstnces=4),
        ["api.maxInstnces: got 4; allowed: one of the keys", "maxInstances"],
    ),
    "integer given as text": (
        "dev",
        with_field("api", minInstances="two"),
        ["api.minInstances: got 'two'; allowed: an integer from 0 to 1000"],
    ),
    "boolean given as text": (
        "dev",
        {"deletionProtection": "yes"},
        ["deletionProtection: got 'yes'; allowed: true or false"],
    ),
    "object given as a scalar": (
        "dev",
        {"redis": "BASIC"},
        ["redis: got 'BASIC'; allowed: an object with keys", "memorySizeGb"],
    ),
    "api min greater than max": (
        "dev",
        with_field("api", minInstances=5, maxInstances=2),
        ["api.minInstances: got 5; allowed: at most api.maxInstances (2)"],
    ),
    "worker min greater than max": (
        "dev",
        with_worker(0, minInstances=3, maxInstances=2),
        [
            "workers[0].minInstances: got 3; allowed: at most workers[0].maxInstances (2)"
        ],
    ),
    "memory too large for one CPU": (
        "dev",
        with_field("api", cpu=1, memory="8Gi"),
        ["api.memory: got '8Gi'; allowed: 512Mi to 4Gi with cpu 1"],
    ),
    "memory too small for four CPUs": (
        "dev",
        with_worker(1, cpu=4, memory="1Gi"),
        ["workers[1].memory: got '1Gi'; allowed: 2048Mi to 16Gi with cpu 4"],
    ),
    "CPU count Cloud Run does not offer": (
        "dev",
        with_field("api", cpu=3),
        ["api.cpu: got 3; allowed: 1 | 2 | 4 | 6 | 8"],
    ),
    "memory in the wrong unit": (
        "dev",
        with_field("api", memory="1GB"),
        ["api.memory: got '1GB'; allowed: a size like 512Mi or 2Gi"],
    ),
    "connector name longer than 25": (
        "dev",
        with_connector(name="celery-dev-serverless-conn"),
        [
            "network.connector.name: got 'celery-dev-serverless-conn'; allowed: at most 25 chars"
        ],
    ),
    "connector CIDR not a /28": (
        "dev",
        with_connector(cidr="10.8.0.0/24"),
        [
            "network.connector.cidr: got '10.8.0.0/24'; allowed: a private IPv4 range /28"
        ],
    ),
    "connector CIDR with host bits": (
        "dev",
        with_connector(cidr="10.8.0.5/28"),
        [
            "network.connector.cidr: got '10.8.0.5/28'; allowed: a private IPv4 range /28"
        ],
    ),
    "connector CIDR inside the subnet": (
        "dev",
        with_connector(cidr="10.10.0.16/28"),
        [
            "network.connector.cidr: got '10.10.0.16/28'",
            "allowed: a /28 outside network.subnetCidr (10.10.0.0/24)",
        ],
    ),
    "connector min not below max": (
        "dev",
        with_connector(minInstances=3, maxInstances=3),
        [
            "network.connector.minInstances: got 3; allowed: less than network.connector.maxInstances (3)"
        ],
    ),
    "connector instances out of range": (
        "dev",
        with_connector(maxInstances=11),
        ["network.connector.maxInstances: got 11; allowed: an integer from 3 to 10"],
    ),
    "connector machine type": (
        "dev",
        with_connector(machineType="n2-standard-2"),
        [
            "network.connector.machineType: got 'n2-standard-2'; allowed: f1-micro | e2-micro | e2-standard-4"
        ],
    ),
    "egress mode": (
        "dev",
        with_field("network", egress="vpc"),
        ["network.egress: got 'vpc'; allowed: connector | direct"],
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
    "redis tier": (
        "dev",
        with_field("redis", tier="PREMIUM"),
        ["redis.tier: got 'PREMIUM'; allowed: BASIC | STANDARD_HA"],
    ),
    "redis size": (
        "dev",
        with_field("redis", memorySizeGb=0),
        ["redis.memorySizeGb: got 0; allowed: an integer from 1 to 300"],
    ),
    "maintenance day": (
        "dev",
        with_field("redis", maintenanceWindow={"day": "SUN", "hour": 3}),
        ["redis.maintenanceWindow.day: got 'SUN'; allowed: MONDAY | TUESDAY"],
    ),
    "maintenance hour": (
        "dev",
        with_field("redis", maintenanceWindow={"day": "SUNDAY", "hour": 24}),
        ["redis.maintenanceWindow.hour: got 24; allowed: an integer from 0 to 23"],
    ),
    "prod without HA": (
        "prod",
        {"redis": {"tier": "BASIC", "memorySizeGb": 5}},
        ["redis.tier: got 'BASIC'; allowed: STANDARD_HA on the prod stack"],
    ),
    "prod without broker snapshots": (
        "prod",
        {"redis": {"tier": "STANDARD_HA", "snapshotPeriod": "DISABLED"}},
        [
            "redis.snapshotPeriod: got 'DISABLED'; allowed: ONE_HOUR | SIX_HOURS | TWELVE_HOURS | "
            "TWENTY_FOUR_HOURS on a prod stack"
        ],
    ),
    "snapshot period": (
        "dev",
        with_field("redis", snapshotPeriod="HOURLY"),
        ["redis.snapshotPeriod: got 'HOURLY'; allowed: DISABLED | ONE_HOUR"],
    ),
    "prod without deletion protection": (
        "prod",
        {"deletionProtection": False},
        ["deletionProtection: got false; allowed: true on the prod stack"],
    ),
    "API keys in plaintext": (
        "dev",
        {"apiKeys": "super-secret-key"},
        [
            "apiKeys: got '<plaintext, not shown>'; allowed: a secret: pulumi config set --secret"
        ],
    ),
    "app secret value for an undeclared secret": (
        "dev",
        {"appSecretValues": Secret({"stripe-key": "sk"})},
        [
            "appSecretValues: got 'stripe-key'; allowed: a name listed in appSecrets (none)"
        ],
    ),
    "app secret named like the broker URL": (
        "dev",
        {"appSecrets": ["redis-url"]},
        [
            "appSecrets: got 'redis-url'; allowed: a name that is not one of the stack's own secrets"
        ],
    ),
    "app secret consumer that is no workload": (
        "dev",
        {"appSecrets": [{"name": "stripe-key", "consumers": ["fats"]}]},
        [
            "appSecrets[0].consumers: got 'fats'; allowed: a non-empty list of workloads from api, fast, bulk"
        ],
    ),
    "app secret without consumers": (
        "dev",
        {"appSecrets": [{"name": "stripe-key", "consumers": []}]},
        ["appSecrets[0].consumers: got []; allowed: a non-empty list of workloads"],
    ),
    "app secret entry with an unknown key": (
        "dev",
        {"appSecrets": [{"name": "stripe-key", "consumers": ["api"], "readers": []}]},
        ["appSecrets[0].readers: got []; allowed: one of the keys consumers, name"],
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
    "connector settings with direct egress": (
        "prod",
        {"network": {"egress": "direct", "subnetCidr": "10.20.0.0/24", "connector": {"minInstances": 2}}},
        [
            "network.connector: got {\"minInstances\": 2}; allowed: unset with network.egress: direct "
            "(no connector is created"
        ],
    ),
    "worker group named like the API": (
        "dev",
        with_worker(1, name="api"),
        ["workers[1].name: got 'api'; allowed: a name other than 'api'"],
    ),
    "missing project": (
        "dev",
        {"gcp:project": None},
        [
            "gcp:project: got null; allowed: your GCP project id: pulumi config set gcp:project <id>"
        ],
    ),
    "task time limit": (
        "dev",
        with_field("tasks", timeLimitSeconds=0),
        ["tasks.timeLimitSeconds: got 0; allowed: an integer from 1 to 86400"],
    ),
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
    "name prefix too long for service account ids": (
        "dev",
        {"namePrefix": "cloudrun-celery-dev"},
        ["namePrefix: got 'cloudrun-celery-dev'; allowed: 3-15 chars"],
    ),
    "schedule cron does not parse": (
        "dev",
        with_schedule(cron="*/5 * * *"),
        ["schedules[0].cron: got '*/5 * * *'; allowed: a five-field unix-cron expression"],
    ),
    "schedule cron with a bad field": (
        "dev",
        with_schedule(cron="61 * * * *"),
        ["schedules[0].cron: got '61 * * * *'"],
    ),
    "schedule time zone unknown": (
        "dev",
        with_schedule(timeZone="Mars/Olympus"),
        ["schedules[0].timeZone: got 'Mars/Olympus'; allowed: an IANA time zone"],
    ),
    "schedule task not in the catalog": (
        "dev",
        with_schedule(task="send_email"),
        ["schedules[0].task: got 'send_email'; allowed: add | external_call | flaky"],
    ),
    "schedule payload fails the task's model": (
        "dev",
        with_schedule(payload={"x": "two", "y": 3}),
        ["schedules[0].payload.x: got 'two'", "AddPayload, the 'add' task's payload"],
    ),
    "schedule payload with an unknown field": (
        "dev",
        with_schedule(payload={"x": 1, "y": 2, "z": 3}),
        ["schedules[0].payload.z: got 3", "Extra inputs are not permitted"],
    ),
    "schedule missing its cron": (
        "dev",
        {"schedules": [{"name": "nightly", "timeZone": "Etc/UTC", "task": "add", "payload": {"x": 1, "y": 1}}]},
        ["schedules[0]: got", "(missing: cron)"],
    ),
    "schedule names collide": (
        "dev",
        {"schedules": dev_value("schedules") * 2},
        ["schedules[1].name: got 'add-every-5-minutes'; allowed: a name no other schedule uses"],
    ),
    "scheduler retry window outlasts the idempotency window": (
        "dev",
        {
            **with_field("api", idempotencyWindowSeconds=600),
            "scheduler": {**dev_value("scheduler"), "maxRetryDurationSeconds": 900},
        },
        [
            "scheduler: got 'retry window 930s'",
            "shorter than api.idempotencyWindowSeconds (600s)",
        ],
    ),
    "scheduler caller not a service account": (
        "dev",
        {"scheduler": {**dev_value("scheduler"), "callers": ["alice@example.com"]}},
        ["scheduler.callers: got [\"alice@example.com\"]; allowed: a list of service account emails"],
    ),
    "flower watches an unknown worker group": (
        "dev",
        {"flower": {"enabled": True, "watchGroups": ["slow"]}},
        ['flower.watchGroups: got ["slow"]; allowed: a non-empty list of worker group names', "fast, bulk"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: c.replace(" ", "-"))
def test_bad_value_fails_before_any_resource(case: str) -> None:
    stack, overrides, fragments = CASES[case]
    with pytest.raises(ProgramError) as failure:
        run_program_full(stack, overrides)
    error = failure.value
    assert type(error.original).__name__ == "InvalidConfig", repr(error.original)
    message = str(error)
    for fragment in fragments:
        assert fragment in message
    assert f"Pulumi.{stack}.yaml" in message
    assert error.resources == [], (
        "no resource may be declared when the config is invalid"
    )
    assert "super-secret-key" not in message


def test_all_problems_are_reported_at_once() -> None:
    overrides = {
        **with_worker(0, minInstances=0),
        **with_connector(cidr="10.8.0.0/27"),
        "logLevel": "LOUD",
    }
    with pytest.raises(ProgramError) as failure:
        run_program_full("dev", overrides)
    message = str(failure.value)
    assert "3 problem(s)" in message
    assert "workers[0].minInstances" in message
    assert "network.connector.cidr" in message
    assert "logLevel: got 'LOUD'" in message


def test_bad_value_fails_during_preview_too() -> None:
    with pytest.raises(ProgramError) as failure:
        run_program_full("dev", with_worker(0, minInstances=0), preview=True)
    assert "workers[0].minInstances: got 0" in str(failure.value)
    assert failure.value.resources == []


def test_there_are_at_least_twenty_cases() -> None:
    assert len(CASES) >= 20
