"""Registry: the Artifact Registry Docker repository the images are pushed to."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
from settings.registry import RegistrySettings


@dataclass(frozen=True)
class RegistryArgs:
    project: str
    region: str
    repository_id: str
    cleanup: RegistrySettings
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Registry(pulumi.ComponentResource):
    repository: gcp.artifactregistry.Repository
    url: pulumi.Output[str]
    """Image path prefix, e.g. ``europe-west1-docker.pkg.dev/<project>/<repo>``."""

    def __init__(
        self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudrun-celery:infra:Registry", name, None, opts)
        self.repository = gcp.artifactregistry.Repository(
            "images",
            project=args.project,
            location=args.region,
            repository_id=args.repository_id,
            format="DOCKER",
            description="API and worker images (cloudrun-celery)",
            cleanup_policy_dry_run=False,
            cleanup_policies=[
                gcp.artifactregistry.RepositoryCleanupPolicyArgs(
                    id="keep-recent-versions",
                    action="KEEP",
                    most_recent_versions=gcp.artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs(
                        keep_count=args.cleanup.keep_recent_versions,
                    ),
                ),
                gcp.artifactregistry.RepositoryCleanupPolicyArgs(
                    id="delete-old-untagged",
                    action="DELETE",
                    condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(
                        tag_state="UNTAGGED",
                        older_than=f"{args.cleanup.delete_untagged_after_days * 86400}s",
                    ),
                ),
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )
        self.url = pulumi.Output.concat(
            args.region,
            "-docker.pkg.dev/",
            args.project,
            "/",
            self.repository.repository_id,
        )
        self.register_outputs({"url": self.url})
