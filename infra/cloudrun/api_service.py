"""API service: the FastAPI app on Cloud Run, public or IAM-only."""

from __future__ import annotations

from dataclasses import dataclass

from cloudrun import api_rollout
import pulumi
import pulumi_gcp as gcp
import runtime_contract
from monitoring import collector
from runtime_contract import WorkloadArgs
from settings.services import ApiSettings
from task_contract import deployment as contract


@dataclass(frozen=True, kw_only=True)
class ApiServiceArgs(WorkloadArgs):
    settings: ApiSettings


class ApiService(pulumi.ComponentResource):
    service: gcp.cloudrunv2.Service
    url: pulumi.Output[str]
    candidate_url: pulumi.Output[str]
    """The newest revision's own URL (its rollout tag), live before it gets any traffic."""
    latest_revision: pulumi.Output[str]
    serving_revision: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: ApiServiceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("cloudrun-celery:infra:ApiService", name, None, opts)
        api = args.settings
        template: gcp.cloudrunv2.ServiceTemplateArgsDict = {
            "service_account": args.service_account_email,
            "scaling": {
                "min_instance_count": api.min_instances,
                "max_instance_count": api.max_instances,
            },
            "max_instance_request_concurrency": api.concurrency,
            "timeout": f"{api.timeout_seconds}s",
            "vpc_access": args.vpc_access,
            "volumes": args.environment.volumes(),
            "containers": [
                {
                    "name": "api",
                    "image": args.image,
                    "ports": {"container_port": runtime_contract.PORT},
                    "resources": {
                        "limits": {"cpu": api.size.cpu, "memory": api.size.memory},
                        # Request-based billing: CPU only while serving requests.
                        "cpu_idle": True,
                        "startup_cpu_boost": True,
                    },
                    "envs": args.environment.env(),
                    "volume_mounts": args.environment.volume_mounts(),
                    # /readyz waits for Redis; VPC egress can take a while on a new instance.
                    "startup_probe": runtime_contract.http_probe(
                        runtime_contract.API_STARTUP_PATH,
                        period_seconds=5,
                        failure_threshold=24,
                        timeout_seconds=2,
                    ),
                    "liveness_probe": runtime_contract.http_probe(
                        runtime_contract.API_LIVENESS_PATH,
                        period_seconds=30,
                        failure_threshold=3,
                        timeout_seconds=5,
                    ),
                },
                # Scrapes between requests can be lost here (request-based CPU); the alerts do
                # not rely on them (docs/operations.md).
                collector.service_sidecar(args.collector_image, "api", cpu_idle=True),
            ],
        }
        self.service = gcp.cloudrunv2.Service(
            "api",
            project=args.project,
            location=args.region,
            name=args.service_name,
            ingress="INGRESS_TRAFFIC_ALL",
            labels={
                contract.APP_LABEL: contract.APP_NAME,
                contract.ROLE_LABEL: contract.API_ROLE,
            },
            deletion_protection=args.deletion_protection,
            template=template,
            traffics=api_rollout.traffic(
                api.rollout.serving_revision, api.rollout.candidate_tag
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=args.depends_on,
                protect=args.deletion_protection,
            ),
        )
        if api.public:
            gcp.cloudrunv2.ServiceIamMember(
                "api-public-invoker",
                project=args.project,
                location=args.region,
                name=self.service.name,
                role="roles/run.invoker",
                member="allUsers",
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.url = self.service.uri
        self.candidate_url = api_rollout.tag_url(self.url, api.rollout.candidate_tag)
        self.latest_revision = self.service.latest_created_revision
        self.serving_revision = api_rollout.serving_revision_output(
            self.service, api.rollout.serving_revision
        )
        self.register_outputs({"url": self.url, "candidate_url": self.candidate_url})
