"""The VPC, its Serverless VPC Access connector or direct egress, and the Memorystore broker."""

from __future__ import annotations

import json

from tests.infra.harness import ProgramRun, run_program_full, stack_config
from tests.infra.stack_resources import (
    MOCK_AUTH,
    REDIS,
    RUN_SERVICE,
    SECRET_VERSION,
    WORKER_POOL,
    stack_file,
)


# --- network ------------------------------------------------------------------------------


def test_dev_uses_a_connector_sized_from_config(dev: ProgramRun) -> None:
    config = stack_file("dev")["network"]["connector"]
    (connector,) = dev.of_type("gcp:vpcaccess/connector:Connector")
    assert connector.inputs["name"] == config["name"]
    assert len(connector.inputs["name"]) <= 25
    assert connector.inputs["ipCidrRange"] == config["cidr"]
    assert connector.inputs["ipCidrRange"].endswith("/28")
    assert connector.inputs["minInstances"] == config["minInstances"]
    assert connector.inputs["maxInstances"] == config["maxInstances"]
    assert connector.inputs["machineType"] == config["machineType"]
    for service in dev.of_type(RUN_SERVICE):
        vpc = service.inputs["template"]["vpcAccess"]
        assert vpc["connector"] == connector.urn.split("::")[-1] + "-id"
        assert "networkInterfaces" not in vpc


def test_prod_uses_direct_vpc_egress_without_a_connector(prod: ProgramRun) -> None:
    assert prod.of_type("gcp:vpcaccess/connector:Connector") == []
    (subnet,) = prod.of_type("gcp:compute/subnetwork:Subnetwork")
    for workload in [*prod.of_type(RUN_SERVICE), *prod.of_type(WORKER_POOL)]:
        vpc = workload.inputs["template"]["vpcAccess"]
        assert "connector" not in vpc
        assert vpc["networkInterfaces"] == [
            {"network": "celery-prod-vpc", "subnetwork": subnet.inputs["name"]}
        ]
        assert vpc["egress"] == "PRIVATE_RANGES_ONLY"


def test_vpc_has_one_explicit_subnet(stack_run: ProgramRun) -> None:
    (vpc,) = stack_run.of_type("gcp:compute/network:Network")
    assert vpc.inputs["autoCreateSubnetworks"] is False
    (subnet,) = stack_run.of_type("gcp:compute/subnetwork:Subnetwork")
    assert (
        subnet.inputs["ipCidrRange"]
        == stack_file(stack_run.stack)["network"]["subnetCidr"]
    )


# --- broker -------------------------------------------------------------------------------


def test_redis_has_auth_tls_and_noeviction(stack_run: ProgramRun) -> None:
    config = stack_file(stack_run.stack)["redis"]
    (redis,) = stack_run.of_type(REDIS)
    assert redis.inputs["authEnabled"] is True
    assert redis.inputs["transitEncryptionMode"] == "SERVER_AUTHENTICATION"
    assert redis.inputs["redisConfigs"] == {"maxmemory-policy": "noeviction"}
    assert redis.inputs["tier"] == config["tier"]
    assert redis.inputs["memorySizeGb"] == config["memorySizeGb"]
    assert redis.inputs["redisVersion"] == config["version"]
    (window,) = redis.inputs["maintenancePolicy"]["weeklyMaintenanceWindows"]
    assert window["day"] == config["maintenanceWindow"]["day"]
    assert window["startTime"] == {
        "hours": config["maintenanceWindow"]["hour"],
        "minutes": 0,
    }


def test_prod_redis_is_ha_and_protected(prod: ProgramRun) -> None:
    (redis,) = prod.of_type(REDIS)
    assert redis.inputs["tier"] == "STANDARD_HA"
    assert redis.inputs["deletionProtection"] is True
    assert redis.protect


def test_broker_url_and_ca_are_stored_as_secret_versions(stack_run: ProgramRun) -> None:
    versions = {r.name: r for r in stack_run.of_type(SECRET_VERSION)}
    url = versions["redis-url"]
    assert "secretData" in url.secret_inputs
    assert url.inputs["secretData"] == f"rediss://:{MOCK_AUTH}@10.20.0.3:6378/0"
    ca = versions["redis-ca"]
    assert "secretData" in ca.secret_inputs
    assert ca.inputs["secretData"].startswith("-----BEGIN CERTIFICATE-----")


def test_broker_persistence_per_tier(prod: ProgramRun) -> None:
    # Prod: HA plus hourly RDB snapshots; dev: off unless configured (docs/broker-durability.md).
    (redis,) = prod.of_type("gcp:redis/instance:Instance")
    assert redis.inputs["tier"] == "STANDARD_HA"
    assert redis.inputs["persistenceConfig"] == {
        "persistenceMode": "RDB",
        "rdbSnapshotPeriod": "ONE_HOUR",
    }
    dev_redis = json.loads(stack_config("dev")[0]["cloudrun-celery:redis"])
    for period, expected in [
        (None, {"persistenceMode": "DISABLED"}),
        ("SIX_HOURS", {"persistenceMode": "RDB", "rdbSnapshotPeriod": "SIX_HOURS"}),
    ]:
        dev_redis["snapshotPeriod"] = period
        run = run_program_full(
            "dev", {"redis": {k: v for k, v in dev_redis.items() if v is not None}}
        )
        (instance,) = run.of_type("gcp:redis/instance:Instance")
        assert instance.inputs["persistenceConfig"] == expected
