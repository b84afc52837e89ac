"""The registry, the images built into it, and the API and worker workloads that run them."""

from __future__ import annotations

import json

import pytest

from tests.infra.harness import PROJECT_ROOT, ProgramRun, run_program_full, stack_config
from tests.infra.stack_resources import (
    RUN_SERVICE,
    WORKER_POOL,
    env_of,
    stack_file,
    worker_workloads,
)


# --- registry -----------------------------------------------------------------------------


def test_registry_cleanup_policies_come_from_config(stack_run: ProgramRun) -> None:
    config = stack_file(stack_run.stack)["registry"]
    (repo,) = stack_run.of_type("gcp:artifactregistry/repository:Repository")
    assert repo.inputs["format"] == "DOCKER"
    policies = {p["id"]: p for p in repo.inputs["cleanupPolicies"]}
    assert policies["keep-recent-versions"]["action"] == "KEEP"
    assert (
        policies["keep-recent-versions"]["mostRecentVersions"]["keepCount"]
        == config["keepRecentVersions"]
    )
    untagged = policies["delete-old-untagged"]
    assert untagged["action"] == "DELETE"
    assert untagged["condition"] == {
        "tagState": "UNTAGGED",
        "olderThan": f"{config['deleteUntaggedAfterDays'] * 86400}s",
    }
    assert stack_run.exports["registry_url"].endswith(
        f"-docker.pkg.dev/{repo.inputs['project']}/{repo.inputs['repositoryId']}"
    )


# --- images -------------------------------------------------------------------------------


def test_images_build_from_services_and_skip_preview(stack_run: ProgramRun) -> None:
    images = {r.name: r for r in stack_run.of_type("docker:index/image:Image")}
    assert set(images) == {"api", "worker"}
    for name, image in images.items():
        assert image.inputs["build"]["context"] == str(PROJECT_ROOT / "services")
        # One Dockerfile; the target and the SERVICE build arg pick the image.
        assert image.inputs["build"]["dockerfile"] == str(
            PROJECT_ROOT / "services" / "Dockerfile"
        )
        assert image.inputs["build"]["target"] == name
        assert image.inputs["build"]["args"] == {"SERVICE": name}
        assert image.inputs["buildOnPreview"] is False
        assert image.inputs["imageName"].startswith(
            stack_run.exports["registry_url"] + f"/{name}:"
        )


def test_workloads_reference_images_by_digest(stack_run: ProgramRun) -> None:
    for workload in [*stack_run.of_type(RUN_SERVICE), *stack_run.of_type(WORKER_POOL)]:
        if workload.name == "autoscaler":
            continue  # CREMA's published image, pinned in config (tests/autoscaling)
        image = workload.inputs["template"]["containers"][0]["image"]
        repo = "api" if workload.name == "api" else "worker"
        assert image.startswith(
            f"{stack_run.exports['registry_url']}/{repo}@sha256:"
        ), workload.urn


# --- API service --------------------------------------------------------------------------


def test_api_service_matches_config_and_runtime_contract(stack_run: ProgramRun) -> None:
    config = stack_file(stack_run.stack)["api"]
    (api,) = [s for s in stack_run.of_type(RUN_SERVICE) if s.name == "api"]
    template = api.inputs["template"]
    container, sidecar = template["containers"]
    assert sidecar["name"] == "collector"  # tests/infra/test_monitoring.py checks it
    assert api.inputs["ingress"] == "INGRESS_TRAFFIC_ALL"
    assert template["scaling"] == {
        "minInstanceCount": config["minInstances"],
        "maxInstanceCount": config["maxInstances"],
    }
    assert template["maxInstanceRequestConcurrency"] == config["concurrency"]
    assert template["timeout"] == f"{config['timeoutSeconds']}s"
    assert container["resources"]["cpuIdle"] is True
    assert container["resources"]["limits"] == {
        "cpu": str(config["cpu"]),
        "memory": config["memory"],
    }
    assert container["ports"] == {"containerPort": 8080}
    assert container["startupProbe"]["httpGet"] == {"path": "/readyz", "port": 8080}
    startup = container["startupProbe"]
    assert startup["failureThreshold"] * startup["periodSeconds"] <= 240
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 8080}
    env = env_of(container)
    assert env["REDIS_URL"]["secretKeyRef"]["secret"].endswith("-redis-url")
    assert env["REDIS_CA_FILE"] == "/secrets/redis-ca/ca.pem"
    assert env["API_KEYS_FILE"] == "/secrets/api-keys/keys"
    assert "API_KEYS" not in env
    # The API's Redis connection cap stays above the requests Cloud Run may send it at once.
    assert int(env["REDIS_MAX_CONNECTIONS"]) > template["maxInstanceRequestConcurrency"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"redis-ca": "/secrets/redis-ca", "api-keys": "/secrets/api-keys"}
    volumes = {v["name"]: v["secret"]["items"] for v in template["volumes"]}
    assert volumes["redis-ca"][0]["path"] == "ca.pem"
    assert volumes["api-keys"][0]["path"] == "keys"


@pytest.mark.parametrize("public", [True, False])
def test_api_is_public_or_iam_only_per_config(public: bool) -> None:
    config = stack_file("dev")["api"]
    run = run_program_full("dev", {"api": {**config, "public": public}})
    invokers = run.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
    if public:
        (invoker,) = invokers
        assert invoker.inputs["member"] == "allUsers"
        assert invoker.inputs["role"] == "roles/run.invoker"
        assert invoker.parent_type == "cloudrun-celery:infra:ApiService"
    else:
        # Only the Cloud Scheduler jobs' account may invoke a private API (tests/schedules).
        assert all("allUsers" not in i.inputs["member"] for i in invokers)
        assert {i.inputs["member"] for i in invokers} <= {
            "serviceAccount:celery-dev-scheduler@my-gcp-project-dev.iam.gserviceaccount.com"
        }


# --- worker services ----------------------------------------------------------------------


def test_one_worker_workload_per_queue_group(stack_run: ProgramRun) -> None:
    groups = stack_file(stack_run.stack)["workers"]
    workloads = worker_workloads(stack_run)
    assert set(workloads) == {g["name"] for g in groups}
    for group in groups:
        workload = workloads[group["name"]]
        expected_type = (
            WORKER_POOL if group.get("kind") == "workerPool" else RUN_SERVICE
        )
        assert workload.type_ == expected_type
        # The policy pack recognises workers by this label.
        assert workload.inputs["labels"]["role"] == "worker"
        container, sidecar = workload.inputs["template"]["containers"]
        assert sidecar["name"] == "collector"  # tests/infra/test_monitoring.py checks it
        env = env_of(container)
        assert env["WORKER_QUEUES"] == ",".join(group["queues"])
        assert env["WORKER_POOL"] == group["pool"]
        assert env["WORKER_CONCURRENCY"] == str(group["concurrency"])
        assert env["REDIS_URL"]["secretKeyRef"]["secret"].endswith("-redis-url")
        assert "API_KEYS_FILE" not in env
        assert container["startupProbe"]["httpGet"] == {
            "path": "/healthz",
            "port": 8080,
        }
        # Direct VPC egress can take a minute or more; Cloud Run caps a startup probe at 240 s.
        startup = container["startupProbe"]
        assert 120 <= startup["failureThreshold"] * startup["periodSeconds"] <= 240
        assert container["resources"]["limits"] == {
            "cpu": str(group["cpu"]),
            "memory": group["memory"],
        }


def test_worker_services_are_internal_always_on_and_never_zero(
    stack_run: ProgramRun,
) -> None:
    groups = {g["name"]: g for g in stack_file(stack_run.stack)["workers"]}
    for name, workload in worker_workloads(stack_run).items():
        if workload.type_ == WORKER_POOL:
            assert workload.inputs["scaling"] == {
                "scalingMode": "MANUAL",
                "manualInstanceCount": groups[name]["minInstances"],
            }
            continue
        assert workload.inputs["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
        template = workload.inputs["template"]
        assert template["containers"][0]["resources"]["cpuIdle"] is False
        assert (
            template["scaling"]["minInstanceCount"] == groups[name]["minInstances"] >= 1
        )
        assert template["scaling"]["maxInstanceCount"] == groups[name]["maxInstances"]
    invoker_parents = {
        r.parent_type
        for r in stack_run.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
    }
    assert "cloudrun-celery:infra:WorkerService" not in invoker_parents


def test_worker_pool_group_needs_direct_egress_and_gets_it(prod: ProgramRun) -> None:
    (pool,) = prod.of_type(WORKER_POOL)
    assert "networkInterfaces" in pool.inputs["template"]["vpcAccess"]


def test_worker_request_knobs_come_from_config() -> None:
    # Once hard-coded (10 requests, 30 s): now workers[].requestConcurrency / requestTimeoutSeconds.
    workers = json.loads(stack_config("dev")[0]["cloudrun-celery:workers"])
    workers[0] = {**workers[0], "requestConcurrency": 4, "requestTimeoutSeconds": 45}
    run = run_program_full("dev", {"workers": workers})
    fast = worker_workloads(run)["fast"].inputs["template"]
    bulk = worker_workloads(run)["bulk"].inputs["template"]
    assert (fast["maxInstanceRequestConcurrency"], fast["timeout"]) == (4, "45s")
    assert (bulk["maxInstanceRequestConcurrency"], bulk["timeout"]) == (10, "30s")
