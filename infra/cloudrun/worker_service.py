"""Worker services: one Celery worker group per Cloud Run service (or worker pool).

A Celery worker pulls from Redis outside any request, so it needs CPU always allocated and at
least one instance, unless the autoscaler sets a worker pool's count from its queue
(``autoscaling: queueDepth``, docs/scaling.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import runtime_contract
from monitoring import collector
from runtime_contract import WorkloadArgs
from settings.workers import WorkerGroupSettings
from task_contract import deployment as contract


@dataclass(frozen=True, kw_only=True)
class WorkerServiceArgs(WorkloadArgs):
    settings: WorkerGroupSettings


# /healthz turns 200 once the worker consumes; Direct VPC egress can take a minute or more to
# connect on a new instance, so allow three minutes.
STARTUP_PROBE = runtime_contract.http_probe(
    runtime_contract.WORKER_HEALTH_PATH,
    period_seconds=10,
    failure_threshold=18,
    timeout_seconds=5,
)
# A worker that has stopped consuming (e.g. after a Redis reconnect) answers 503; replace it
# after three minutes rather than let it sit idle.
LIVENESS_PROBE = runtime_contract.http_probe(
    runtime_contract.WORKER_HEALTH_PATH,
    period_seconds=30,
    failure_threshold=6,
    timeout_seconds=5,
)


def _pool_scaling(group: WorkerGroupSettings) -> gcp.cloudrunv2.WorkerPoolScalingArgsDict:
    if group.scaling_mode == "AUTOMATIC":
        return {
            "scaling_mode": "AUTOMATIC",
            "min_instance_count": group.min_instances,
            "max_instance_count": group.max_instances,
        }
    return {"scaling_mode": "MANUAL", "manual_instance_count": group.min_instances}


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
                "volume_mounts": [*env.volume_mounts(), runtime_contract.metrics_volume_mount()],
                "startup_probe": STARTUP_PROBE,
                "liveness_probe": LIVENESS_PROBE,
            }
            pool_template: gcp.cloudrunv2.WorkerPoolTemplateArgsDict = {
                "service_account": args.service_account_email,
                "vpc_access": args.vpc_access,
                "volumes": [*env.volumes(), runtime_contract.metrics_volume()],
                "containers": [pool_container, collector.pool_sidecar(args.collector_image, "worker")],
            }
            pool_opts = child
            if group.autoscaling is not None:
                # The autoscaler owns the live count; a deploy must not reset it to minInstances
                # (deploys run `pulumi up --refresh`, docs/scaling.md).
                pool_opts = pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(ignore_changes=["scaling.manualInstanceCount"])
                )
            self.pool = gcp.cloudrunv2.WorkerPool(
                name,
                project=args.project,
                location=args.region,
                name=args.service_name,
                labels=labels,
                deletion_protection=args.deletion_protection,
                # Billed per instance. MANUAL: minInstances run, or the autoscaler sets the count.
                scaling=_pool_scaling(group),
                template=pool_template,
                opts=pool_opts,
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
                "volumes": [*env.volumes(), runtime_contract.metrics_volume()],
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
                        "volume_mounts": [*env.volume_mounts(), runtime_contract.metrics_volume_mount()],
                        "startup_probe": STARTUP_PROBE,
                        "liveness_probe": LIVENESS_PROBE,
                    },
                    collector.service_sidecar(args.collector_image, "worker", cpu_idle=False),
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

    def require_pool(self) -> gcp.cloudrunv2.WorkerPool:
        """The worker pool; the settings allow autoscaling only on ``kind: workerPool``."""
        if self.pool is None:
            raise ValueError(f"worker {self._name!r} is a service, not a worker pool")
        return self.pool
