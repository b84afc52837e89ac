"""Flower (optional, ``flower.enabled``): Celery's monitor as its own Cloud Run service, never public.

It runs the worker image's ``celery flower`` as its own service account, which can read the
broker's secrets and nothing else. No ``allUsers`` grant: reach it with IAM
(``gcloud run services proxy``, docs/schedules.md). It consumes task events continuously, so its
CPU is always allocated and it runs exactly one instance (two would each hold half the picture).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import runtime_contract
from monitoring import collector
from runtime_contract import WorkloadArgs
from settings.flower import FLOWER_SIZE
from task_contract import deployment as contract

FLOWER_HEALTH_PATH = "/healthcheck"


def flower_args(port: int) -> list[str]:
    """``celery flower`` on Cloud Run's port; also what ``make dev --flower`` runs."""
    return ["-A", "worker.app", "flower", f"--port={port}", "--address=0.0.0.0", "--persistent=False"]


@dataclass(frozen=True, kw_only=True)
class FlowerServiceArgs(WorkloadArgs):
    """The args every Cloud Run workload shares (its collector sidecar scrapes Flower's /metrics)."""


class FlowerService(pulumi.ComponentResource):
    service: gcp.cloudrunv2.Service
    url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: FlowerServiceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("cloudrun-celery:infra:FlowerService", name, None, opts)
        env = args.environment
        self.service = gcp.cloudrunv2.Service(
            "flower",
            project=args.project,
            location=args.region,
            name=args.service_name,
            # Reachable only with roles/run.invoker: the service has no allUsers binding.
            ingress="INGRESS_TRAFFIC_ALL",
            invoker_iam_disabled=False,
            labels={contract.APP_LABEL: contract.APP_NAME, contract.ROLE_LABEL: "flower"},
            deletion_protection=args.deletion_protection,
            template={
                "service_account": args.service_account_email,
                "scaling": {"min_instance_count": 1, "max_instance_count": 1},
                "vpc_access": args.vpc_access,
                "volumes": env.volumes(),
                "containers": [
                    {
                        "name": "flower",
                        "image": args.image,
                        "commands": ["/opt/venv/bin/celery"],
                        "args": flower_args(runtime_contract.PORT),
                        "ports": {"container_port": runtime_contract.PORT},
                        "resources": {
                            "limits": {"cpu": FLOWER_SIZE.cpu, "memory": FLOWER_SIZE.memory},
                            # Events arrive outside requests: CPU always allocated.
                            "cpu_idle": False,
                        },
                        "envs": env.env(),
                        "volume_mounts": env.volume_mounts(),
                        "startup_probe": runtime_contract.http_probe(
                            FLOWER_HEALTH_PATH, period_seconds=10, failure_threshold=18, timeout_seconds=5
                        ),
                    },
                    collector.service_sidecar(args.collector_image, "flower", cpu_idle=False),
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on, protect=args.deletion_protection),
        )
        self.url = self.service.uri
        self.register_outputs({"url": self.url})
