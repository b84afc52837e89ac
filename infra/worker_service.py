"""Worker services: one Celery worker group per Cloud Run service (or worker pool).

A Celery worker pulls from Redis outside any request, so it needs CPU always allocated and at
least one instance; the settings refuse ``minInstances: 0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import runtime_contract
from runtime_contract import ContainerEnvironment
from settings.workers import WorkerGroupSettings
from task_contract import deployment as contract


@dataclass(frozen=True)
class WorkerServiceArgs:
    project: str
    region: str
    service_name: str
    settings: WorkerGroupSettings
    image: pulumi.Input[str]
    service_account_email: pulumi.Input[str]
    environment: ContainerEnvironment
    vpc_access: gcp.cloudrunv2.ServiceTemplateVpcAccessArgsDict
    deletion_protection: bool
    depends_on: list[pulumi.Resource] = field(default_factory=list)


def _startup_probe() -> gcp.cloudrunv2.ServiceTemplateContainerStartupProbeArgsDict:
    # /healthz turns 200 once the worker consumes; Direct VPC egress can take a minute or more
    # to connect on a new instance, so allow three minutes.
    return runtime_contract.startup_probe(
        runtime_contract.WORKER_HEALTH_PATH,
        period_seconds=10,
        failure_threshold=18,
        timeout_seconds=5,
    )


# A worker that has stopped consuming (e.g. after a Redis reconnect) answers 503; replace it
# after three minutes rather than let it sit idle.
LIVENESS_PERIOD_SECONDS = 30
LIVENESS_FAILURE_THRESHOLD = 6
LIVENESS_TIMEOUT_SECONDS = 5


def _liveness_probe() -> gcp.cloudrunv2.ServiceTemplateContainerLivenessProbeArgsDict:
    return runtime_contract.liveness_probe(
        runtime_contract.WORKER_HEALTH_PATH,
        period_seconds=LIVENESS_PERIOD_SECONDS,
        failure_threshold=LIVENESS_FAILURE_THRESHOLD,
        timeout_seconds=LIVENESS_TIMEOUT_SECONDS,
    )


def _pool_liveness_probe() -> (
    gcp.cloudrunv2.WorkerPoolTemplateContainerLivenessProbeArgsDict
):
    # Same probe; worker pools type it separately.
    return {
        "http_get": {
            "path": runtime_contract.WORKER_HEALTH_PATH,
            "port": runtime_contract.PORT,
        },
        "period_seconds": LIVENESS_PERIOD_SECONDS,
        "failure_threshold": LIVENESS_FAILURE_THRESHOLD,
        "timeout_seconds": LIVENESS_TIMEOUT_SECONDS,
    }


class WorkerService(pulumi.ComponentResource):
    service: gcp.cloudrunv2.Service | None
    pool: gcp.cloudrunv2.WorkerPool | None
    name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: WorkerServiceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("cloudrun-celery:infra:WorkerService", name, None, opts)
        group = args.settings
        env = args.environment
        child = pulumi.ResourceOptions(
            parent=self, depends_on=args.depends_on, protect=args.deletion_protection
        )
        limits: dict[str, pulumi.Input[str]] = {
            "cpu": group.size.cpu,
            "memory": group.size.memory,
        }
        # The policy pack (policy/) recognises workers by this label: they must never be public.
        labels = {
            contract.APP_LABEL: contract.APP_NAME,
            contract.ROLE_LABEL: contract.WORKER_ROLE,
            "worker-group": group.name,
        }
        self.service = None
        self.pool = None
        if group.kind == "workerPool":
            pool_container: gcp.cloudrunv2.WorkerPoolTemplateContainerArgsDict = {
                "name": "worker",
                "image": args.image,
                "resources": {"limits": limits},
                "envs": env.env(),
                "volume_mounts": env.volume_mounts(),
                "startup_probe": _startup_probe(),
                "liveness_probe": _pool_liveness_probe(),
            }
            pool_template: gcp.cloudrunv2.WorkerPoolTemplateArgsDict = {
                "service_account": args.service_account_email,
                "vpc_access": args.vpc_access,
                "volumes": env.volumes(),
                "containers": [pool_container],
            }
            self.pool = gcp.cloudrunv2.WorkerPool(
                name,
                project=args.project,
                location=args.region,
                name=args.service_name,
                labels=labels,
                deletion_protection=args.deletion_protection,
                # Worker pools are billed per instance and scale manually: run minInstances.
                scaling={
                    "scaling_mode": "MANUAL",
                    "manual_instance_count": group.min_instances,
                },
                template=pool_template,
                opts=child,
            )
            self.name = self.pool.name
        else:
            template: gcp.cloudrunv2.ServiceTemplateArgsDict = {
                "service_account": args.service_account_email,
                "scaling": {
                    "min_instance_count": group.min_instances,
                    "max_instance_count": group.max_instances,
                },
                # Only the health probes send requests to a worker service.
                "max_instance_request_concurrency": group.request_concurrency,
                "timeout": f"{group.request_timeout_seconds}s",
                "vpc_access": args.vpc_access,
                "volumes": env.volumes(),
                "containers": [
                    {
                        "name": "worker",
                        "image": args.image,
                        "ports": {"container_port": runtime_contract.PORT},
                        "resources": {
                            "limits": limits,
                            # CPU always allocated: Celery works between requests.
                            "cpu_idle": False,
                            "startup_cpu_boost": True,
                        },
                        "envs": env.env(),
                        "volume_mounts": env.volume_mounts(),
                        "startup_probe": _startup_probe(),
                        "liveness_probe": _liveness_probe(),
                    }
                ],
            }
            self.service = gcp.cloudrunv2.Service(
                name,
                project=args.project,
                location=args.region,
                name=args.service_name,
                # Internal ingress and no invoker bindings: nothing outside the VPC calls it.
                ingress="INGRESS_TRAFFIC_INTERNAL_ONLY",
                labels=labels,
                deletion_protection=args.deletion_protection,
                template=template,
                opts=child,
            )
            self.name = self.service.name
        self.register_outputs({"name": self.name, "kind": group.kind})
