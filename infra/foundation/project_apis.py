"""Project APIs: the Google APIs the stack needs, enabled before anything that uses them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

# compute: VPC and subnet. vpcaccess: the connector. servicenetworking is not needed because
# Redis uses DIRECT_PEERING. cloudresourcemanager and iam: service accounts and IAM bindings.
REQUIRED_APIS: tuple[str, ...] = (
    "artifactregistry.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "monitoring.googleapis.com",
    "redis.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "vpcaccess.googleapis.com",
)

# Only with monitoring.budget set: billing budgets (the budget's own API).
BUDGET_API = "billingbudgets.googleapis.com"


@dataclass(frozen=True)
class ProjectApisArgs:
    project: str
    apis: Sequence[str] = REQUIRED_APIS


class ProjectApis(pulumi.ComponentResource):
    """Enables each API once. Other components depend on the ones they call."""

    services: dict[str, gcp.projects.Service]

    def __init__(
        self,
        name: str,
        args: ProjectApisArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("cloudrun-celery:infra:ProjectApis", name, None, opts)
        self.services = {
            api: gcp.projects.Service(
                api.split(".")[0],
                project=args.project,
                service=api,
                # Leave APIs on at destroy: other things in the project may use them, and
                # disabling is slow and fails while dependents still exist.
                disable_on_destroy=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for api in args.apis
        }
        self.register_outputs({"apis": list(self.services)})

    def needed_by(self, *short_names: str) -> list[pulumi.Resource]:
        """The API resources a component must wait for, by short name ("run", "redis", ...)."""
        return [self.services[f"{short}.googleapis.com"] for short in short_names]
