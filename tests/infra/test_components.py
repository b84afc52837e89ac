"""Each component's resources, for the real dev and prod stack files, under mocks."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.infra.harness import (
    PROJECT_ROOT,
    MockedResource,
    ProgramRun,
    run_program_full,
    stack_config,
)

RUN_SERVICE = "gcp:cloudrunv2/service:Service"
WORKER_POOL = "gcp:cloudrunv2/workerPool:WorkerPool"
SECRET = "gcp:secretmanager/secret:Secret"
SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion"
SCHEDULER_JOB = "gcp:cloudscheduler/job:Job"
SECRET_IAM = "gcp:secretmanager/secretIamMember:SecretIamMember"
REDIS = "gcp:redis/instance:Instance"
ACCOUNT = "gcp:serviceaccount/account:Account"
MOCK_AUTH = "mock-redis-auth-string"


def stack_file(stack: str) -> dict[str, Any]:
    document = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())
    return {
        k.split(":", 1)[1]: v
        for k, v in document["config"].items()
        if k.startswith("cloudrun-celery:")
    }


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {
        e["name"]: e.get("value", e.get("valueSource"))
        for e in container.get("envs", [])
    }


def worker_workloads(run: ProgramRun) -> dict[str, MockedResource]:
    return {
        r.name.removeprefix("worker-"): r
        for r in run.resources
        if r.type_ in (RUN_SERVICE, WORKER_POOL)
        and r.parent_type == "cloudrun-celery:infra:WorkerService"
    }


# --- project APIs -------------------------------------------------------------------------


def test_required_apis_are_enabled_and_left_on_at_destroy(
    stack_run: ProgramRun,
) -> None:
    apis = {
        r.inputs["service"]: r
        for r in stack_run.of_type("gcp:projects/service:Service")
    }
    for api in (
        "run",
        "redis",
        "vpcaccess",
        "secretmanager",
        "artifactregistry",
        "compute",
        "iam",
    ):
        assert f"{api}.googleapis.com" in apis
    assert all(r.inputs["disableOnDestroy"] is False for r in apis.values())


def test_resources_wait_for_the_api_they_use(stack_run: ProgramRun) -> None:
    api_urns = {
        r.inputs["service"].split(".")[0]: r.urn
        for r in stack_run.of_type("gcp:projects/service:Service")
    }
    expected = {
        REDIS: "redis",
        "gcp:artifactregistry/repository:Repository": "artifactregistry",
        "gcp:compute/network:Network": "compute",
        SECRET: "secretmanager",
        ACCOUNT: "iam",
        RUN_SERVICE: "run",
        WORKER_POOL: "run",
    }
    for resource in stack_run.resources:
        if resource.type_ in expected:
            assert api_urns[expected[resource.type_]] in resource.depends_on, (
                resource.urn
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


# --- secrets and identities ---------------------------------------------------------------


def _readers(run: ProgramRun) -> dict[str, set[str]]:
    readers: dict[str, set[str]] = {}
    for member in run.of_type(SECRET_IAM):
        assert member.inputs["role"] == "roles/secretmanager.secretAccessor"
        readers.setdefault(member.inputs["secretId"], set()).add(
            member.inputs["member"]
        )
    return readers


def test_each_secret_is_readable_only_by_the_workloads_that_need_it(
    stack_run: ProgramRun,
) -> None:
    prefix = stack_file(stack_run.stack)["namePrefix"]
    project = stack_run.exports["registry_url"].split("/")[1]
    api = f"serviceAccount:{prefix}-api@{project}.iam.gserviceaccount.com"
    workers = {
        f"serviceAccount:{prefix}-wkr-{w['name']}@{project}.iam.gserviceaccount.com"
        for w in stack_file(stack_run.stack)["workers"]
    }
    # Flower (flower.enabled) reads the broker's secrets and nothing else.
    flower = (
        {f"serviceAccount:{prefix}-flower@{project}.iam.gserviceaccount.com"}
        if stack_file(stack_run.stack).get("flower", {}).get("enabled")
        else set()
    )
    readers = _readers(stack_run)
    # The autoscaler (CREMA) reads AUTH and the CA, never the URL (docs/scaling.md).
    autoscaler = {
        f"serviceAccount:{a.inputs['accountId']}@{project}.iam.gserviceaccount.com"
        for a in stack_run.of_type(ACCOUNT)
        if a.name == "autoscaler"
    }
    assert readers[f"{prefix}-api-keys"] == {api}
    assert readers[f"{prefix}-redis-url"] == {api, *workers, *flower}
    assert readers[f"{prefix}-redis-ca"] == {api, *workers, *flower, *autoscaler}
    if autoscaler:
        assert readers[f"{prefix}-redis-auth"] == autoscaler
    by_group = {w["name"]: w for w in stack_file(stack_run.stack)["workers"]}
    for entry in stack_file(stack_run.stack).get("appSecrets", []):
        if isinstance(entry, str):
            assert readers[f"{prefix}-{entry}"] == {api, *workers}
            continue
        expected = {
            api
            if consumer == "api"
            else f"serviceAccount:{prefix}-wkr-{by_group[consumer]['name']}@{project}.iam.gserviceaccount.com"
            for consumer in entry["consumers"]
        }
        assert readers[f"{prefix}-{entry['name']}"] == expected
    assert set(readers) == {s.inputs["secretId"] for s in stack_run.of_type(SECRET)}


def test_no_project_wide_iam_is_granted(stack_run: ProgramRun) -> None:
    # The exceptions: the autoscaler views its own config parameter (Parameter Manager has
    # no per-parameter IAM), under a condition naming that parameter (tests/autoscaling); and each
    # workload writes metrics (Cloud Monitoring grants that only on the project, tests/policy).
    project_iam = [
        r
        for r in stack_run.resources
        if r.type_.lower().startswith("gcp:projects/iam")
        and r.inputs["role"] != "roles/monitoring.metricWriter"
        and not (
            r.inputs["role"] == "roles/parametermanager.parameterViewer"
            and "/parameters/" in r.inputs.get("condition", {}).get("expression", "")
        )
    ]
    assert project_iam == []


def test_every_workload_has_its_own_service_account(stack_run: ProgramRun) -> None:
    accounts = [
        w.inputs["template"]["serviceAccount"]
        for w in [*worker_workloads(stack_run).values()]
    ]
    # The API, the autoscaler, Flower (when enabled) and the Cloud Scheduler jobs' OIDC caller.
    accounts += [
        s.inputs["template"]["serviceAccount"]
        for s in stack_run.of_type(RUN_SERVICE)
        if s.name in ("api", "autoscaler", "flower")
    ]
    accounts += sorted(
        {j.inputs["httpTarget"]["oidcToken"]["serviceAccountEmail"] for j in stack_run.of_type(SCHEDULER_JOB)}
    )
    assert len(set(accounts)) == len(accounts) == len(stack_run.of_type(ACCOUNT))


def test_nothing_sensitive_in_plaintext(stack_run: ProgramRun) -> None:
    for resource in stack_run.resources:
        public = {
            k: v for k, v in resource.inputs.items() if k not in resource.secret_inputs
        }
        assert MOCK_AUTH not in repr(public), resource.urn
        assert "mock-secret-for" not in repr(public), resource.urn
    assert MOCK_AUTH not in repr(stack_run.exports)


def test_app_secret_values_from_secret_config_become_versions() -> None:
    from tests.infra.harness import Secret

    run = run_program_full(
        "dev",
        {
            "appSecrets": ["stripe-key"],
            "appSecretValues": Secret({"stripe-key": "sk_live_abc"}),
            "apiKeys": Secret("key-one,key-two"),
        },
    )
    versions = {r.name: r for r in run.of_type(SECRET_VERSION)}
    assert versions["app-stripe-key"].inputs["secretData"] == "sk_live_abc"
    assert "secretData" in versions["app-stripe-key"].secret_inputs
    assert versions["api-keys"].inputs["secretData"] == "key-one\nkey-two\n"
    (api,) = [s for s in run.of_type(RUN_SERVICE) if s.name == "api"]
    env = env_of(api.inputs["template"]["containers"][0])
    assert env["STRIPE_KEY"] == {
        "secretKeyRef": {"secret": "celery-dev-stripe-key", "version": "1"}
    }
    assert "sk_live_abc" not in repr(api.inputs)


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


# --- protection and exports ---------------------------------------------------------------


def test_prod_protects_redis_services_and_secrets(prod: ProgramRun) -> None:
    protected_types = (REDIS, RUN_SERVICE, WORKER_POOL, SECRET)
    for resource in prod.resources:
        if resource.type_ in protected_types:
            assert resource.protect, resource.urn
            assert resource.inputs["deletionProtection"] is True, resource.urn
    # Versions and grants stay unprotected so secrets can rotate.
    assert not any(r.protect for r in prod.of_type(SECRET_VERSION))


def test_dev_destroys_cleanly(dev: ProgramRun) -> None:
    assert [r.urn for r in dev.resources if r.protect or r.retain_on_delete] == []
    with_flag = [r for r in dev.resources if "deletionProtection" in r.inputs]
    assert with_flag, "expected Cloud Run, Redis and secrets to set deletionProtection"
    assert all(r.inputs["deletionProtection"] is False for r in with_flag)


def test_exports(stack_run: ProgramRun) -> None:
    exports = stack_run.exports
    assert set(exports) == {
        "api_url",
        "dashboard",
        "api_candidate_url",
        "api_latest_revision",
        "api_serving_revision",
        "worker_services",
        "registry_url",
        "redis_host",
        "secret_names",
        *(["autoscaler_service"] if "autoscaler_service" in exports else []),
        "scheduler_jobs",
        "flower_url",
        "beat_pool",
    }
    assert exports["api_url"].startswith("https://")
    assert set(exports["worker_services"]) == {
        w["name"] for w in stack_file(stack_run.stack)["workers"]
    }
    assert exports["secret_names"]["redis-url"].endswith("-redis-url")


def test_components_parent_their_resources(stack_run: ProgramRun) -> None:
    for resource in stack_run.resources:
        if resource.custom:
            assert resource.parent_type and resource.parent_type.startswith(
                "cloudrun-celery:infra:"
            ), resource.urn


def test_an_app_secret_reaches_only_its_consumers() -> None:
    # Least privilege per secret: the grant and the env var go to the named workloads only.
    run = run_program_full(
        "dev",
        {
            "appSecrets": [
                {"name": "stripe-key", "consumers": ["fast"]},
                {"name": "webhook-key", "consumers": ["api", "bulk"]},
                "shared-key",
            ]
        },
    )
    readers = _readers(run)
    account = "serviceAccount:celery-dev-{}@my-gcp-project-dev.iam.gserviceaccount.com"
    api, fast, bulk = (account.format(n) for n in ("api", "wkr-fast", "wkr-bulk"))
    assert readers["celery-dev-stripe-key"] == {fast}
    assert readers["celery-dev-webhook-key"] == {api, bulk}
    assert readers["celery-dev-shared-key"] == {api, fast, bulk}
    (api_service,) = [s for s in run.of_type(RUN_SERVICE) if s.name == "api"]
    envs = {
        "api": env_of(api_service.inputs["template"]["containers"][0]),
        **{
            name: env_of(w.inputs["template"]["containers"][0])
            for name, w in worker_workloads(run).items()
        },
    }
    holders = {
        var: {w for w, env in envs.items() if var in env}
        for var in ("STRIPE_KEY", "WEBHOOK_KEY", "SHARED_KEY")
    }
    assert holders == {
        "STRIPE_KEY": {"fast"},
        "WEBHOOK_KEY": {"api", "bulk"},
        "SHARED_KEY": {"api", "fast", "bulk"},
    }


def test_worker_request_knobs_come_from_config() -> None:
    # Once hard-coded (10 requests, 30 s): now workers[].requestConcurrency / requestTimeoutSeconds.
    workers = json.loads(stack_config("dev")[0]["cloudrun-celery:workers"])
    workers[0] = {**workers[0], "requestConcurrency": 4, "requestTimeoutSeconds": 45}
    run = run_program_full("dev", {"workers": workers})
    fast = worker_workloads(run)["fast"].inputs["template"]
    bulk = worker_workloads(run)["bulk"].inputs["template"]
    assert (fast["maxInstanceRequestConcurrency"], fast["timeout"]) == (4, "45s")
    assert (bulk["maxInstanceRequestConcurrency"], bulk["timeout"]) == (10, "30s")


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
