"""Celery beat (optional, ``beat.enabled``): a worker pool of exactly one instance, never autoscaled.

It runs ``python -m worker.beat`` from the worker image, as its own service account, which can
read the broker's secrets and nothing else. One instance because beat is a clock, not a
consumer; the Redis lock of celery-redbeat (``worker/beat.py``) covers the moments when two run
anyway, as when a deploy overlaps two revisions (docs/schedules.md). Beat exports no metrics, so
the pool has no collector sidecar and its account no ``monitoring.metricWriter`` grant.

Beat answers ``/healthz`` on the container port (worker/beat_health.py): 503 when it cannot reach
Redis or its loop has stopped ticking. The probes below replace a hung beat; a standby beat
(another revision holds the lock) answers 200.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import runtime_contract
from runtime_contract import ContainerEnvironment
from settings.beat import BeatSettings
from task_contract import deployment as contract

BEAT_SCHEDULES_ENV = "BEAT_SCHEDULES"
BEAT_LOCK_TIMEOUT_ENV = "BEAT_LOCK_TIMEOUT_SECONDS"

# /healthz is 200 once beat reaches Redis; Direct VPC egress can take a minute or more to connect
# on a new instance, so allow three minutes.
STARTUP_PROBE = runtime_contract.http_probe(
    runtime_contract.WORKER_HEALTH_PATH, period_seconds=10, failure_threshold=18, timeout_seconds=5
)
# A missed tick is not retried (docs/schedules.md), so replace a hung beat after a minute of 503s,
# sooner than a worker (three minutes). A restart during a Redis outage costs nothing: beat waits
# for Redis either way.
LIVENESS_PROBE = runtime_contract.http_probe(
    runtime_contract.WORKER_HEALTH_PATH, period_seconds=15, failure_threshold=4, timeout_seconds=5
)


@dataclass(frozen=True)
class BeatPoolArgs:
    project: str
    region: str
    pool_name: str
    settings: BeatSettings
    image: pulumi.Input[str]
    service_account_email: pulumi.Input[str]
    # The broker variables only (REDIS_URL, the CA file): beat sends tasks, it runs none.
    environment: ContainerEnvironment
    vpc_access: gcp.cloudrunv2.ServiceTemplateVpcAccessArgsDict
    deletion_protection: bool
    depends_on: list[pulumi.Resource]


def beat_environment(broker: ContainerEnvironment, settings: BeatSettings) -> ContainerEnvironment:
    """The broker's environment plus the entries and the lock timeout ``worker.beat`` reads."""
    entries = [entry.as_environment() for entry in settings.entries]
    return broker.plus(
        plain={
            BEAT_SCHEDULES_ENV: json.dumps(entries, separators=(",", ":"), sort_keys=True),
            BEAT_LOCK_TIMEOUT_ENV: str(settings.lock_timeout_seconds),
        },
        secret={},
    )


class BeatPool(pulumi.ComponentResource):
    pool: gcp.cloudrunv2.WorkerPool

    def __init__(self, name: str, args: BeatPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cloudrun-celery:infra:BeatPool", name, None, opts)
        env = args.environment
        self.pool = gcp.cloudrunv2.WorkerPool(
            "beat",
            project=args.project,
            location=args.region,
            name=args.pool_name,
            labels={contract.APP_LABEL: contract.APP_NAME, contract.ROLE_LABEL: "beat"},
            deletion_protection=args.deletion_protection,
            # Exactly one, always: MANUAL, and no autoscaler ever writes this pool's count.
            scaling={"scaling_mode": "MANUAL", "manual_instance_count": 1},
            template={
                "service_account": args.service_account_email,
                "vpc_access": args.vpc_access,
                "volumes": env.volumes(),
                "containers": [
                    {
                        "name": "beat",
                        "image": args.image,
                        "commands": ["/opt/venv/bin/python"],
                        "args": ["-m", "worker.beat"],
                        "resources": {"limits": {"cpu": args.settings.size.cpu, "memory": args.settings.size.memory}},
                        "envs": env.env(),
                        "volume_mounts": env.volume_mounts(),
                        "startup_probe": STARTUP_PROBE,
                        "liveness_probe": LIVENESS_PROBE,
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on, protect=args.deletion_protection),
        )
        self.register_outputs({"name": self.pool.name})
