"""platform: gke under mocks: the cluster, the provider, the workloads and their security settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.infra import inventory
from tests.infra.harness import ProgramRun

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SCALED = "kubernetes:keda.sh/v1alpha1:ScaledObject"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"


def pod_spec(deployment: Any) -> dict[str, Any]:
    return deployment.inputs["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def test_autopilot_cluster_private_with_workload_identity_in_the_broker_vpc(gke: ProgramRun) -> None:
    (cluster,) = gke.of_type("gcp:container/cluster:Cluster")
    inputs = cluster.inputs
    assert inputs["enableAutopilot"] is True
    assert inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert inputs["workloadIdentityConfig"]["workloadPool"] == "my-gcp-project-gke.svc.id.goog"
    assert inputs["releaseChannel"] == {"channel": "REGULAR"}
    window = inputs["maintenancePolicy"]["recurringWindow"]
    assert window["startTime"] == "2026-01-03T02:00:00Z" and window["recurrence"] == "FREQ=WEEKLY;BYDAY=SA,SU"
    (vpc,) = gke.of_type("gcp:compute/network:Network")
    (redis,) = gke.of_type("gcp:redis/instance:Instance")
    assert inputs["network"] == redis.inputs["authorizedNetwork"]


def test_provider_uses_an_explicit_kubeconfig_from_the_cluster(gke: ProgramRun) -> None:
    (provider,) = gke.of_type("pulumi:providers:kubernetes")
    assert "kubeconfig" in provider.secret_inputs
    config = json.loads(provider.inputs["kubeconfig"])
    assert config["current-context"] == "gke"
    assert config["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    k8s_resources = [r for r in gke.resources if r.type_.startswith("kubernetes:")]
    assert k8s_resources and all(r.provider.startswith(provider.urn) for r in k8s_resources)


def test_every_pod_is_locked_down_sized_and_probed(gke: ProgramRun) -> None:
    deployments = gke.of_type(DEPLOYMENT)
    assert sorted(d.inputs["metadata"]["name"] for d in deployments) == ["api", "worker-bulk", "worker-fast"]
    for d in deployments:
        spec = pod_spec(d)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (container,) = spec["containers"]
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert container["resources"]["requests"] == container["resources"]["limits"] == {"cpu": "1", "memory": container["resources"]["limits"]["memory"]}
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] in ("/readyz", "/healthz")
    workers = [d for d in deployments if d.inputs["metadata"]["name"] != "api"]
    assert {pod_spec(w)["terminationGracePeriodSeconds"] for w in workers} == {20}


def test_spot_only_for_the_opted_in_group(gke: ProgramRun) -> None:
    spot = {
        d.inputs["metadata"]["name"]: pod_spec(d).get("nodeSelector", {}).get("cloud.google.com/gke-spot")
        for d in gke.of_type(DEPLOYMENT)
    }
    assert spot == {"api": None, "worker-fast": None, "worker-bulk": "true"}


def test_a_pdb_per_workload_and_never_hpa_and_scaledobject_on_one_deployment(gke: ProgramRun) -> None:
    deployments = {d.inputs["metadata"]["name"] for d in gke.of_type(DEPLOYMENT)}
    pdbs = {p.inputs["spec"]["selector"]["matchLabels"]["workload"] for p in gke.of_type(PDB)}
    assert pdbs == deployments
    hpa_targets = {h.inputs["spec"]["scaleTargetRef"]["name"] for h in gke.of_type(HPA)}
    keda_targets = {s.inputs["spec"]["scaleTargetRef"]["name"] for s in gke.of_type(SCALED)}
    assert hpa_targets == {"api"}
    assert keda_targets and not hpa_targets & keda_targets
    for d in gke.of_type(DEPLOYMENT):
        # KEDA owns the replica count of the Deployments it scales.
        assert ("replicas" in d.inputs["spec"]) == (d.inputs["metadata"]["name"] not in keda_targets)


def test_scaled_objects_read_the_broker_with_tls_and_auth_from_secret_manager(gke: ProgramRun) -> None:
    (auth,) = gke.of_type("kubernetes:keda.sh/v1alpha1:TriggerAuthentication")
    params = {s["parameter"] for s in auth.inputs["spec"]["gcpSecretManager"]["secrets"]}
    assert params == {"password", "ca"}
    assert auth.inputs["spec"]["gcpSecretManager"]["podIdentity"] == {"provider": "gcp"}
    (bulk,) = gke.of_type(SCALED)  # the one group with autoscaling: queueDepth
    (trigger,) = bulk.inputs["spec"]["triggers"]
    assert trigger["type"] == "redis" and trigger["metadata"]["enableTLS"] == "true"
    assert trigger["authenticationRef"] == {"name": "broker"}
    # The scaling spec's signal: the queue's work ledger, as CREMA reads it on Cloud Run.
    assert trigger["metadata"]["listName"] == "cloudrun-celery:work:low"
    assert bulk.inputs["spec"]["scaleTargetRef"] == {"name": "worker-bulk"}
    assert (bulk.inputs["spec"]["minReplicaCount"], bulk.inputs["spec"]["maxReplicaCount"]) == (0, 8)
    (keda,) = [r for r in gke.of_type("kubernetes:helm.sh/v3:Release") if r.name == "keda"]
    assert keda.inputs["version"] == "2.20.0"


def test_workers_take_no_ingress_and_egress_only_broker_dns_metadata(gke: ProgramRun) -> None:
    policies = {p.inputs["metadata"]["name"]: p.inputs["spec"] for p in gke.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    workers = policies["workers"]
    # Only Managed Prometheus's collectors, on the metrics port (tests/kubernetes/test_monitoring_on_gke.py).
    assert [r["ports"] for r in workers["ingress"]] == [[{"protocol": "TCP", "port": 8080}]]
    assert "Ingress" in workers["policyTypes"]
    ports = sorted(p["port"] for rule in workers["egress"] for p in rule["ports"])
    assert ports == [53, 53, 80, 443, 988, 6378]
    assert policies["default-deny"]["podSelector"] == {}


def test_each_ksa_maps_to_its_own_google_account(gke: ProgramRun) -> None:
    members = sorted(b.inputs["member"] for b in gke.of_type("gcp:serviceaccount/iAMMember:IAMMember"))
    assert members == sorted(
        f"serviceAccount:my-gcp-project-gke.svc.id.goog[{ns}/{ksa}]"
        for ns, ksa in [
            ("celery", "api"), ("celery", "worker-fast"), ("celery", "worker-bulk"),
            ("celery", "scheduler"),  # the private API's CronJobs post as the scheduler's account
            ("keda", "keda-operator"),
        ]
    )
    for ksa in gke.of_type("kubernetes:core/v1:ServiceAccount"):
        assert ksa.inputs["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]


def test_no_secret_value_in_any_kubernetes_object(gke: ProgramRun) -> None:
    assert not gke.of_type("kubernetes:core/v1:Secret")
    for r in gke.resources:
        if r.type_.startswith("kubernetes:") and r.type_ != "kubernetes:helm.sh/v3:Release":
            assert not r.secret_inputs, f"{r.name} carries a secret input: {sorted(r.secret_inputs)}"
    for es in gke.of_type("kubernetes:external-secrets.io/v1:ExternalSecret"):
        assert all(set(d["remoteRef"]) == {"key", "version"} for d in es.inputs["spec"]["data"])


def test_no_cloud_run_service_on_gke(gke: ProgramRun) -> None:
    assert not [r for r in gke.resources if r.type_.startswith("gcp:cloudrunv2")]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_cloud_run_stacks_declare_no_kubernetes(stack: str, request: pytest.FixtureRequest) -> None:
    run: ProgramRun = request.getfixturevalue(stack)
    assert not [r for r in run.resources if r.type_.startswith(("kubernetes:", "pulumi:providers:kubernetes", "gcp:container"))]


def test_gke_inventory_matches_golden_file(gke: ProgramRun) -> None:
    import os

    path = Path(__file__).with_name("gke_inventory.yaml")
    actual = inventory.render(gke)
    if os.environ.get("REGEN_INVENTORY") == "1":
        path.write_text(actual)
    assert path.read_text() == actual, "regenerate with REGEN_INVENTORY=1 and review the diff"


def test_gke_urns_are_stable(gke: ProgramRun) -> None:
    # The same baseline as the Cloud Run stacks: a move of a module never changes a URN.
    from tests.infra.test_urn_stability import assert_urns_stable

    assert_urns_stable(gke)
