"""The cluster (a new GKE Autopilot cluster, or an existing one) and a provider built from it.

The provider gets an explicit kubeconfig made from the cluster's own outputs, so the program
never deploys into whatever cluster the ambient ``~/.kube/config`` points at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
from settings.platform import GkeSettings


@dataclass(frozen=True)
class ClusterArgs:
    project: str
    region: str
    cluster_name: str
    settings: GkeSettings
    network_id: pulumi.Input[str]
    subnetwork_id: pulumi.Input[str]
    deletion_protection: bool
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Cluster(pulumi.ComponentResource):
    provider: k8s.Provider
    name: pulumi.Output[str]
    cluster: gcp.container.Cluster | None

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cloudrun-celery:infra:GkeCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        settings = args.settings
        self.cluster = None
        if settings.existing is not None:
            found = gcp.container.get_cluster_output(
                name=settings.existing.name, location=settings.existing.location, project=args.project
            )
            self.name = pulumi.Output.from_input(settings.existing.name)
            endpoint, ca = found.endpoint, found.master_auths[0].cluster_ca_certificate
        else:
            assert settings.cluster is not None
            cluster = settings.cluster
            self.cluster = gcp.container.Cluster(
                "autopilot",
                project=args.project,
                location=args.region,
                name=args.cluster_name,
                enable_autopilot=True,
                # The VPC Memorystore peers with: pods reach the broker's private address.
                network=args.network_id,
                subnetwork=args.subnetwork_id,
                ip_allocation_policy={},
                private_cluster_config={
                    "enable_private_nodes": True,
                    "enable_private_endpoint": False,
                    "master_ipv4_cidr_block": cluster.master_cidr,
                },
                # Autopilot always enables Workload Identity; stated so the pool is explicit.
                workload_identity_config={"workload_pool": f"{args.project}.svc.id.goog"},
                release_channel={"channel": cluster.release_channel},
                maintenance_policy={
                    "recurring_window": {
                        "start_time": cluster.maintenance.start_time,
                        "end_time": cluster.maintenance.end_time,
                        "recurrence": cluster.maintenance.recurrence,
                    }
                },
                deletion_protection=args.deletion_protection,
                opts=child,
            )
            self.name = self.cluster.name
            endpoint, ca = self.cluster.endpoint, self.cluster.master_auth.cluster_ca_certificate
        kubeconfig: pulumi.Output[str] = pulumi.Output.all(self.name, endpoint, ca).apply(
            lambda a: kubeconfig_for(*a)
        )
        self.provider = k8s.Provider(
            "gke",
            kubeconfig=pulumi.Output.secret(kubeconfig),  # type: ignore[arg-type]  # pulumi 3.272 stub: Output[Never]
            # Never fall back to the ambient kubeconfig's context or namespace.
            context="gke",
            namespace=settings.namespace,
            delete_unreachable=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"name": self.name})


def kubeconfig_for(name: str, endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig for one cluster that authenticates with gke-gcloud-auth-plugin."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "gke",
            "clusters": [
                {"name": name, "cluster": {"server": f"https://{endpoint}", "certificate-authority-data": ca_certificate}}
            ],
            "contexts": [{"name": "gke", "context": {"cluster": name, "user": "gke"}}],
            "users": [
                {
                    "name": "gke",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "gke-gcloud-auth-plugin",
                            "provideClusterInfo": True,
                            "installHint": "gcloud components install gke-gcloud-auth-plugin",
                        }
                    },
                }
            ],
        }
    )
