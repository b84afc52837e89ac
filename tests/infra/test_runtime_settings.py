"""Stack keys that become the services' runtime settings, and the Redis connection budget (docs/connection-budget.md).

The real program runs under mocks; each test reads the env a container gets, or the error a bad
stack config gets before any resource is declared.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.harness import ProgramError, run_program_full
from tests.infra.stack_resources import RUN_SERVICE, env_of, stack_file, worker_workloads
from tests.infra.invalid_config import dev_value, with_field, with_worker


def api_env(run: Any) -> dict[str, Any]:
    (service,) = [r for r in run.of_type(RUN_SERVICE) if r.inputs["labels"]["role"] == "api"]
    return env_of(service.inputs["template"]["containers"][0])


def worker_env(run: Any, group: str) -> dict[str, Any]:
    return env_of(worker_workloads(run)[group].inputs["template"]["containers"][0])


def config_error(stack: str, overrides: dict[str, Any]) -> str:
    with pytest.raises(ProgramError) as failure:
        run_program_full(stack, overrides)
    assert type(failure.value.original).__name__ == "InvalidConfig", repr(failure.value.original)
    assert failure.value.resources == []
    return str(failure.value)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_size_processes_from_cpu(stack: str) -> None:
    run = run_program_full(stack, {})
    config = stack_file(stack)
    # One serving process per vCPU; the API's defaults for back-pressure.
    assert api_env(run)["WEB_CONCURRENCY"] == str(config["api"]["cpu"])
    assert api_env(run)["MAX_QUEUE_LENGTH"] == "100000"
    assert "MAX_QUEUE_LENGTHS" not in api_env(run)
    for group in config["workers"]:
        env = worker_env(run, group["name"])
        # Threads: one consumer process per vCPU (concurrency is per process); prefork: one parent.
        expected = group["cpu"] if group["pool"] == "threads" else 1
        assert env["WORKER_PROCESSES"] == str(expected), group["name"]
        assert env["WORKER_CONCURRENCY"] == str(group["concurrency"])
        # Nothing allowed unless the stack says so: external_call reaches no host.
        assert "EXTERNAL_CALL_ALLOWED_HOSTS" not in env and "EXTERNAL_CALL_ALLOWED_NETWORKS" not in env


def test_stack_keys_reach_the_containers() -> None:
    overrides = {
        **with_field("api", cpu=2, memory="1Gi", maxQueueLength=5000, maxQueueLengths={"low": 100, "high": 0}),
        **with_worker(
            0,
            processes=3,
            externalCallAllowedHosts=["api.example.com", "*.Partner.example."],
            externalCallAllowedNetworks=["10.8.0.7", "192.168.0.0/16"],
        ),
    }
    run = run_program_full("dev", overrides)
    api = api_env(run)
    assert (api["WEB_CONCURRENCY"], api["MAX_QUEUE_LENGTH"], api["MAX_QUEUE_LENGTHS"]) == ("2", "5000", "low=100,high=0")
    fast = worker_env(run, "fast")
    assert fast["WORKER_PROCESSES"] == "3"
    assert fast["EXTERNAL_CALL_ALLOWED_HOSTS"] == "api.example.com,*.partner.example"
    assert fast["EXTERNAL_CALL_ALLOWED_NETWORKS"] == "10.8.0.7/32,192.168.0.0/16"
    assert "EXTERNAL_CALL_ALLOWED_HOSTS" not in worker_env(run, "bulk")  # per group


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        (with_worker(0, processes=0), ["workers[0].processes: got 0; allowed: an integer from 1 to 16"]),
        (with_worker(0, externalCallAllowedHosts=["https://api.example.com/"]),
         ["workers[0].externalCallAllowedHosts: got 'https://api.example.com/'", "*.example.com"]),
        (with_worker(0, externalCallAllowedHosts="api.example.com"), ["a list of host names"]),
        (with_worker(1, externalCallAllowedNetworks=["10.0.0.0/33"]),
         ["workers[1].externalCallAllowedNetworks: got '10.0.0.0/33'", "CIDRs"]),
        (with_field("api", maxQueueLengths={"urgent": 5}), ["api.maxQueueLengths.urgent: got 5", "high, default, low"]),
        (with_field("api", maxQueueLengths={"low": -1}), ["api.maxQueueLengths.low: got -1"]),
        (with_field("api", maxQueueLength="lots"), ["api.maxQueueLength: got 'lots'"]),
    ],
    ids=["processes", "host-url", "hosts-not-list", "network", "queue-unknown", "length-negative", "length-text"],
)
def test_bad_runtime_keys_fail_before_any_resource(overrides: dict[str, Any], fragments: list[str]) -> None:
    message = config_error("dev", overrides)
    for fragment in fragments:
        assert fragment in message


def test_connection_budget_names_the_numbers_and_the_fix() -> None:
    # Redis 6.x with TLS on a 1 GB instance: Memorystore allows about 1,000 clients (M1).
    redis = {**dev_value("redis"), "version": "REDIS_6_X"}
    # fast 2 x 1 x (2 x 20 + 14) = 108, bulk 1 x 1 x (2 x 4 + 14) = 22, flower 34: 164; the API takes the rest.
    fits = {**dev_value("api"), "maxInstances": 8, "concurrency": 80}  # 8 x 1 x (80 + 20 + 2) = 816 -> 980
    run_program_full("dev", {"redis": redis, "api": fits})

    too_many = {**fits, "maxInstances": 9}  # 9 x 102 = 918 -> 1,082
    message = config_error("dev", {"redis": redis, "api": too_many})
    assert "redis: got 'REDIS_6_X, 1 GB, TLS on'" in message
    assert "client limit (1,000, docs/connection-budget.md) covers the worst case of 1,082 connections" in message
    assert "api (maxInstances x processes x REDIS_MAX_CONNECTIONS+2) 9 x 1 x 102 = 918" in message
    assert "workers fast (maxInstances x processes x (2 x concurrency+14)) 2 x 1 x 54 = 108" in message
    assert "workers bulk (maxInstances x processes x (2 x concurrency+14)) 1 x 1 x 22 = 22" in message
    assert "flower (1 instance, 2 + 8 inspect calls x 4) 1 x 1 x 34 = 34" in message
    assert "raise redis.memorySizeGb, or use redis.version REDIS_7_2" in message

    # Redis 7 with TLS: 65,000 clients, the same config fits.
    run_program_full("dev", {"api": too_many})
    # A second serving process per instance doubles the API's share (2 vCPU -> WEB_CONCURRENCY=2).
    two_cpu = {**fits, "cpu": 2, "memory": "1Gi", "maxInstances": 5}  # 5 x 2 x 102 = 1,020
    assert "5 x 2 x 102 = 1,020" in config_error("dev", {"redis": redis, "api": two_cpu})


def test_prod_budget_counts_the_autoscaler_and_worker_processes() -> None:
    # prod: api 20 x 2 x 102; fast 10 x 2 x 514; bulk (prefork, autoscaled) 10 x 1 x 22; autoscaler 1 x 1 x 10.
    redis = {**dev_value("redis"), "version": "REDIS_6_X", "tier": "STANDARD_HA", "memorySizeGb": 5,
             "snapshotPeriod": "ONE_HOUR"}
    message = config_error("prod", {"redis": redis})
    assert "client limit (2,500," in message and "worst case of 14,590 connections" in message
    assert "workers fast (maxInstances x processes x (2 x concurrency+14)) 10 x 2 x 514 = 10,280" in message
    assert "autoscaler (1 x groups x 10) 1 x 1 x 10 = 10" in message
