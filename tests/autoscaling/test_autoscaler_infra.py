"""CREMA on Cloud Run, as the program declares it under mocks (prod autoscales; dev does not).

The rendered config is checked the way CREMA reads it: ``yaml.UnmarshalStrict`` into its
``CremaConfig`` (unknown fields fail), then ``config/validator.go``; field names from
GoogleCloudPlatform/cloud-run-external-metrics-autoscaling ``metric-provider/api/crema_config.go``
and KEDA v2.20 (``apis/keda/v1alpha1``, ``pkg/scalers/redis_scaler.go``).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.infra.harness import ProgramRun, run_program_full

AUTOSCALER = "cloudrun-celery:infra:Autoscaler"
POOL = "gcp:cloudrunv2/workerPool:WorkerPool"

# json tags CREMA's strict unmarshal accepts, per object.
CREMA_CONFIG_FIELDS = {"apiVersion", "kind", "metadata", "spec"}
CREMA_SPEC_FIELDS = {"scaledObjects", "triggerAuthentications", "pollingInterval"}
SCALED_OBJECT_SPEC_FIELDS = {  # kedav1alpha1.ScaledObjectSpec
    "scaleTargetRef", "pollingInterval", "initialCooldownPeriod", "cooldownPeriod",
    "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "advanced", "triggers", "fallback",
}
TRIGGER_FIELDS = {"type", "name", "useCachedMetrics", "metadata", "authenticationRef", "metricType"}
REDIS_METADATA = {  # redis_scaler.go keda:"name=..." tags read from triggerMetadata
    "address", "addresses", "host", "hosts", "port", "ports", "username", "password",
    "sentinelUsername", "sentinelPassword", "sentinelMaster", "unsafeSsl", "listLength",
    "activationListLength", "listName", "databaseIndex", "enableTLS",
}
REDIS_AUTH_PARAMS = {"password", "username", "ca", "cert", "Cert", "key", "keyPassword", "tls", "address", "host", "port"}
BEHAVIOR_RULE_FIELDS = {"stabilizationWindowSeconds", "selectPolicy", "policies"}


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program_full("prod")


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_program_full("dev")


def children(run: ProgramRun) -> dict[str, Any]:
    return {r.urn: r for r in run.resources if r.parent_type == AUTOSCALER}


def rendered(run: ProgramRun) -> dict[str, Any]:
    (version,) = [r for r in children(run).values() if r.type_.endswith("ParameterVersion")]
    loaded = yaml.safe_load(version.inputs["parameterData"])
    assert isinstance(loaded, dict)
    return loaded


def test_prod_deploys_crema_with_its_own_identity_network_and_config(prod: ProgramRun) -> None:
    parts = children(prod)
    (service,) = [r for r in parts.values() if r.type_ == "gcp:cloudrunv2/service:Service"]
    (account,) = [r for r in parts.values() if r.type_ == "gcp:serviceaccount/account:Account"]
    template = service.inputs["template"]
    (container,) = template["containers"]
    assert template["serviceAccount"].startswith(account.inputs["accountId"] + "@")
    # CREMA's README deploy: one instance, no CPU throttling, not invokable from outside.
    assert service.inputs["scaling"] == {"scalingMode": "MANUAL", "manualInstanceCount": 1}
    assert container["resources"]["cpuIdle"] is False
    assert service.inputs["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    assert not [r for r in prod.resources if r.type_.startswith("gcp:cloudrunv2/serviceIam") and r.inputs.get("name") == service.inputs["name"]]
    # Direct VPC egress to reach Memorystore.
    assert template["vpcAccess"]["networkInterfaces"] and template["vpcAccess"]["egress"] == "PRIVATE_RANGES_ONLY"
    # The image pinned in config, never :latest; the config version it reads.
    assert container["image"].endswith("/crema-v1/autoscaler:1.2")
    (version,) = [r for r in parts.values() if r.type_.endswith("ParameterVersion")]
    env = {e["name"]: e["value"] for e in container["envs"]}
    assert env["CREMA_CONFIG"] == (
        "projects/my-gcp-project-prod/locations/global/parameters/celery-prod-autoscaler/versions/"
        + version.inputs["parameterVersionId"]
    )


def test_least_privilege(prod: ProgramRun) -> None:
    parts = children(prod)
    member = "serviceAccount:celery-prod-autoscaler@my-gcp-project-prod.iam.gserviceaccount.com"
    grants = {
        (r.type_.split(":")[1], r.inputs["role"], r.inputs.get("name") or r.inputs.get("secretId") or r.inputs.get("serviceAccountId") or r.inputs.get("project"))
        for r in prod.resources
        if r.inputs.get("member") == member
    }
    assert grants == {
        # Update only the autoscaled pool ...
        ("cloudrunv2/workerPoolIamMember", "roles/run.developer", "celery-prod-worker-bulk"),
        # ... act only as its service account ...
        (
            "serviceaccount/iAMMember",
            "roles/iam.serviceAccountUser",
            "projects/my-gcp-project-prod/serviceAccounts/celery-prod-wkr-bulk@my-gcp-project-prod.iam.gserviceaccount.com",
        ),
        # ... read only the broker's AUTH and CA ...
        ("secretmanager/secretIamMember", "roles/secretmanager.secretAccessor", "celery-prod-redis-auth"),
        ("secretmanager/secretIamMember", "roles/secretmanager.secretAccessor", "celery-prod-redis-ca"),
        # ... and view only its own parameter (conditioned, below).
        ("projects/iAMMember", "roles/parametermanager.parameterViewer", "my-gcp-project-prod"),
    }
    (viewer,) = [r for r in parts.values() if r.type_ == "gcp:projects/iAMMember:IAMMember"]
    assert '"/locations/global/parameters/celery-prod-autoscaler"' in viewer.inputs["condition"]["expression"]
    # The fast group is a service, not autoscaled: no grant on it or its account.
    assert not any("fast" in str(g) for g in grants)


def test_the_program_never_fights_the_autoscaler(prod: ProgramRun) -> None:
    pools = {r.name: r for r in prod.of_type(POOL)}
    assert pools["worker-bulk"].ignore_changes == ("scaling.manualInstanceCount",)
    assert pools["worker-bulk"].inputs["scaling"] == {"scalingMode": "MANUAL", "manualInstanceCount": 0}


def test_a_pool_without_autoscaling_keeps_its_count_managed() -> None:
    config = run_program_full("prod", {"workers": [
        {"name": "fast", "queues": ["high", "default"]},
        {"name": "bulk", "queues": ["low"], "kind": "workerPool", "autoscaling": "none", "minInstances": 2},
    ]})
    (pool,) = config.of_type(POOL)
    assert pool.ignore_changes == ()
    assert pool.inputs["scaling"] == {"scalingMode": "MANUAL", "manualInstanceCount": 2}
    assert not [r for r in config.resources if r.parent_type == AUTOSCALER]


def test_rendered_config_is_what_crema_reads(prod: ProgramRun) -> None:
    config = rendered(prod)
    assert set(config) <= CREMA_CONFIG_FIELDS and config["apiVersion"] == "crema/v1" and config["kind"] == "CremaConfig"
    spec = config["spec"]
    assert set(spec) <= CREMA_SPEC_FIELDS
    assert spec["pollingInterval"] == 15
    (auth,) = spec["triggerAuthentications"]
    assert auth["metadata"]["name"] and set(auth["spec"]) == {"gcpSecretManager"}
    secrets = auth["spec"]["gcpSecretManager"]["secrets"]
    assert {s["parameter"]: s["id"] for s in secrets} == {"password": "celery-prod-redis-auth", "ca": "celery-prod-redis-ca"}
    assert {s["parameter"] for s in secrets} <= REDIS_AUTH_PARAMS
    (scaled,) = spec["scaledObjects"]
    assert set(scaled) == {"spec"}
    so = scaled["spec"]
    assert set(so) <= SCALED_OBJECT_SPEC_FIELDS and "pollingInterval" not in so  # validator.go
    assert so["scaleTargetRef"]["name"] == "projects/my-gcp-project-prod/locations/europe-west1/workerpools/celery-prod-worker-bulk"
    assert (so["minReplicaCount"], so["maxReplicaCount"]) == (0, 10)
    (trigger,) = so["triggers"]
    assert set(trigger) <= TRIGGER_FIELDS and trigger["type"] == "redis"
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    metadata = trigger["metadata"]
    assert set(metadata) <= REDIS_METADATA and all(isinstance(v, str) for v in metadata.values())
    assert metadata["listName"] == "cloudrun-celery:work:low"
    assert metadata["listLength"] == "4"  # bulk's concurrency
    assert metadata["enableTLS"] == "true" and metadata["address"] == "10.20.0.3:6378"
    behavior = so["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert set(behavior) == {"scaleUp", "scaleDown"}
    for rules in behavior.values():
        assert set(rules) <= BEHAVIOR_RULE_FIELDS
    assert behavior["scaleDown"] == {
        "stabilizationWindowSeconds": 120,
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
    }


def test_dev_ships_without_the_autoscaler(dev: ProgramRun) -> None:
    # Dev's groups are services behind a VPC connector (no worker pools), so nothing to scale.
    assert not [r for r in dev.resources if r.parent_type == AUTOSCALER]
    assert not [r for r in dev.resources if "parametermanager" in r.type_ or "redis-auth" in r.name]
