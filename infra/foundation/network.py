"""Network: the VPC Redis lives on and the way Cloud Run reaches it (connector or direct)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
# The modules, not gcp.compute.X: the package's __init__ would import all 288 (provider_packages.py).
from pulumi_gcp.compute.network import Network as Vpc
from pulumi_gcp.compute.subnetwork import Subnetwork
from settings.network import NetworkSettings


@dataclass(frozen=True)
class NetworkArgs:
    project: str
    region: str
    name_prefix: str
    settings: NetworkSettings
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Network(pulumi.ComponentResource):
    vpc: Vpc
    subnet: Subnetwork
    connector: gcp.vpcaccess.Connector | None
    """Only with ``egress: connector``; Direct VPC egress needs none and costs nothing idle."""

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudrun-celery:infra:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        self.vpc = Vpc(
            "vpc",
            project=args.project,
            name=f"{args.name_prefix}-vpc",
            auto_create_subnetworks=False,
            opts=child,
        )
        self.subnet = Subnetwork(
            "subnet",
            project=args.project,
            region=args.region,
            name=f"{args.name_prefix}-run",
            network=self.vpc.id,
            ip_cidr_range=args.settings.subnet_cidr,
            private_ip_google_access=True,
            opts=child,
        )
        self.connector = None
        if args.settings.egress == "connector":
            connector = args.settings.connector
            self.connector = gcp.vpcaccess.Connector(
                "connector",
                project=args.project,
                region=args.region,
                # Explicit: autonaming would append a suffix past the 25-character limit.
                name=connector.name,
                network=self.vpc.name,
                ip_cidr_range=connector.cidr,
                min_instances=connector.min_instances,
                max_instances=connector.max_instances,
                machine_type=connector.machine_type,
                opts=child,
            )
        self.register_outputs(
            {
                "vpc": self.vpc.id,
                "subnet": self.subnet.id,
                "egress": args.settings.egress,
            }
        )

    def vpc_access(self) -> gcp.cloudrunv2.ServiceTemplateVpcAccessArgsDict:
        """How a Cloud Run template reaches the VPC: the connector, or Direct VPC egress."""
        # Only private ranges (Redis) go through the VPC; public egress stays direct.
        if self.connector is not None:
            return {"connector": self.connector.id, "egress": "PRIVATE_RANGES_ONLY"}
        return {
            "network_interfaces": [
                {"network": self.vpc.name, "subnetwork": self.subnet.name}
            ],
            "egress": "PRIVATE_RANGES_ONLY",
        }
