"""Images: build and push the API and worker images; services pin them by digest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_docker as docker

# Build context and Dockerfile from docs/runtime-contract.md, relative to the project root: one
# Dockerfile, one target per image (the SERVICE build arg picks what goes into the venv).
BUILD_CONTEXT = "services"
DOCKERFILE = "services/Dockerfile"
IMAGES = ("api", "worker")


@dataclass(frozen=True)
class ImagesArgs:
    registry_url: pulumi.Input[str]
    project_root: Path
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Images(pulumi.ComponentResource):
    api: pulumi.Output[str]
    """``<registry>/api@sha256:...``: a new digest is the only thing that rolls the API."""
    worker: pulumi.Output[str]

    def __init__(
        self, name: str, args: ImagesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudrun-celery:infra:Images", name, None, opts)
        digests: dict[str, pulumi.Output[str]] = {}
        for image in IMAGES:
            built = docker.Image(
                image,
                image_name=pulumi.Output.concat(args.registry_url, f"/{image}:latest"),
                build=docker.DockerBuildArgs(
                    context=str(args.project_root / BUILD_CONTEXT),
                    dockerfile=str(args.project_root / DOCKERFILE),
                    target=image,
                    args={"SERVICE": image},
                    platform="linux/amd64",
                ),
                # Preview neither builds nor pushes; `pulumi up` does both.
                build_on_preview=False,
                skip_push=False,
                opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
            )
            digests[image] = built.repo_digest
        self.api = digests["api"]
        self.worker = digests["worker"]
        self.register_outputs({"api": self.api, "worker": self.worker})
