"""Stack configuration, read once into frozen, validated settings.

Every key of the ``cloudrun-celery:`` namespace is read in this package and nowhere else: one
module per component (``network``, ``redis``, ``services``, ``secrets``, ``registry``,
``monitoring``), each owning its keys, and ``load_settings()`` here composing them. A bad value raises
``InvalidConfig`` before any resource is declared; the message names the key, the value and
what is allowed, one line per problem, so a single ``pulumi preview`` shows them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
from pulumi.runtime import config as runtime_config
from task_contract.deployment import LOG_LEVELS, WORKER_POOLS, is_prod_stack

from .autoscaling import (
    AUTOSCALER_KEYS,
    AutoscalerSettings,
    QueueDepthAutoscaling,
    read_autoscaler,
)
from .network import (
    CONNECTOR_KEYS,
    NETWORK_KEYS,
    ConnectorSettings,
    Egress,
    NetworkSettings,
    read_network,
)
from .monitoring import (
    BUDGET_KEYS,
    MONITORING_KEYS,
    AlertThresholds,
    BudgetSettings,
    MonitoringSettings,
    read_monitoring,
)
from .beat import BEAT_KEYS, BeatEntry, BeatSettings, read_beat
from .connection_budget import check_connection_budget
from .flower import FLOWER_KEYS, FlowerSettings, read_flower
from .reader import PROJECT, ConfigReader, InvalidConfig, all_config_keys, key_list
from .redis import (
    MAINTENANCE_KEYS,
    REDIS_KEYS,
    MaintenanceWindow,
    RedisSettings,
    read_redis,
)
from .platform import GKE_KEYS, GkeSettings, Platform, read_gke, read_platform
from .registry import REGISTRY_KEYS, RegistrySettings, read_registry
from .schedules import (
    CRON_STARTING_DEADLINE_SECONDS,
    SCHEDULE_KEYS,
    SCHEDULER_KEYS,
    Schedule,
    SchedulerRetry,
    SchedulerSettings,
    read_scheduler,
)
from .rollout import ROLLOUT_KEYS, ApiRolloutSettings
from .secrets import (
    AppSecret,
    missing_secret_values,
    read_api_keys,
    read_app_secrets,
    read_verify_key,
)
from .workers import WORKER_KEYS, WorkerGroupSettings, WorkerKind, read_workers
from .services import (
    API_SERVICE_KEYS,
    CPU_MEMORY_MIB,
    TASKS_KEYS,
    ApiSettings,
    ContainerSize,
    TaskSettings,
    memory_mib,
    read_api,
    read_tasks,
)

__all__ = [
    "BUDGET_KEYS",
    "MONITORING_KEYS",
    "AlertThresholds",
    "BudgetSettings",
    "MonitoringSettings",
    "CONNECTOR_KEYS",
    "CPU_MEMORY_MIB",
    "LOG_LEVELS",
    "MAINTENANCE_KEYS",
    "PROJECT",
    "TOP_LEVEL_KEYS",
    "WORKER_KEYS",
    "WORKER_POOLS",
    "ROLLOUT_KEYS",
    "ApiRolloutSettings",
    "ApiSettings",
    "GkeSettings",
    "Platform",
    "AppSecret",
    "AutoscalerSettings",
    "BeatEntry",
    "BeatSettings",
    "ConnectorSettings",
    "ContainerSize",
    "Egress",
    "FlowerSettings",
    "InvalidConfig",
    "MaintenanceWindow",
    "NetworkSettings",
    "QueueDepthAutoscaling",
    "RedisSettings",
    "RegistrySettings",
    "SCHEDULE_KEYS",
    "Schedule",
    "SchedulerRetry",
    "SchedulerSettings",
    "Settings",
    "TaskSettings",
    "WorkerGroupSettings",
    "WorkerKind",
    "is_prod_stack",
    "load_settings",
    "memory_mib",
]

NAME_PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{1,13}[a-z0-9]$")
PROJECT_ID_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")

# Top-level keys of the cloudrun-celery namespace and their nested keys (None: a scalar).
TOP_LEVEL_KEYS: dict[str, frozenset[str] | None] = {
    "namePrefix": None,
    "deletionProtection": None,
    "logLevel": None,
    "registry": REGISTRY_KEYS,
    "network": NETWORK_KEYS,
    "redis": REDIS_KEYS,
    "api": API_SERVICE_KEYS,
    "workers": None,
    "autoscaler": AUTOSCALER_KEYS,
    "tasks": TASKS_KEYS,
    "appSecrets": None,
    "appSecretValues": None,
    "apiKeys": None,
    "monitoring": MONITORING_KEYS,
    "verifyKey": None,
    "schedules": None,
    "scheduler": SCHEDULER_KEYS,
    "flower": FLOWER_KEYS,
    "beat": BEAT_KEYS,
    "platform": None,
    "gke": GKE_KEYS,
}


@dataclass(frozen=True)
class Settings:
    project: str
    region: str
    stack: str
    name_prefix: str
    deletion_protection: bool
    log_level: str
    registry: RegistrySettings
    network: NetworkSettings
    redis: RedisSettings
    api: ApiSettings
    workers: tuple[WorkerGroupSettings, ...]
    autoscaler: AutoscalerSettings
    tasks: TaskSettings
    app_secrets: tuple[AppSecret, ...]
    api_keys: pulumi.Output[str] | None
    monitoring: MonitoringSettings
    verify_key: pulumi.Output[str] | None
    scheduler: SchedulerSettings
    flower: FlowerSettings
    beat: BeatSettings
    platform: Platform = "cloudrun"
    gke: GkeSettings | None = None

    @property
    def is_prod(self) -> bool:
        return is_prod_stack(self.stack)


def load_settings() -> Settings:
    """Read and validate the whole stack config. Raises ``InvalidConfig`` listing every problem."""
    reader = ConfigReader()
    stack = pulumi.get_stack()

    for full_key in sorted(all_config_keys()):
        namespace, _, key = full_key.partition(":")
        if namespace == PROJECT and key not in TOP_LEVEL_KEYS:
            reader.fail(
                full_key,
                reader.raw(key),
                f"one of the keys {key_list(frozenset(TOP_LEVEL_KEYS))}",
            )

    project = _gcp_setting(
        reader,
        "gcp:project",
        PROJECT_ID_RE,
        "a GCP project id (6-30 chars, a-z 0-9 -)",
        "your GCP project id: pulumi config set gcp:project <id>",
    )
    region = _gcp_setting(
        reader,
        "gcp:region",
        REGION_RE,
        "a GCP region such as europe-west1",
        "a GCP region: pulumi config set gcp:region europe-west1",
    )
    name_prefix = reader.text(
        "namePrefix",
        reader.raw("namePrefix"),
        "celery",
        NAME_PREFIX_RE,
        "3-15 chars of a-z 0-9 -, starting with a letter (it prefixes service account ids)",
    )
    deletion_protection = reader.boolean(
        "deletionProtection", reader.raw("deletionProtection"), True
    )
    log_level = reader.choice("logLevel", reader.raw("logLevel"), "INFO", LOG_LEVELS)
    registry = read_registry(reader)
    network = read_network(reader, name_prefix)
    redis = read_redis(reader, is_prod_stack(stack))
    api = read_api(reader)
    workers = read_workers(reader, network.egress)
    autoscaler = read_autoscaler(reader)
    tasks = read_tasks(reader)
    app_secrets = read_app_secrets(reader, tuple(w.name for w in workers))
    api_keys = read_api_keys(reader)
    autoscaled = any(w.autoscaling is not None for w in workers)
    monitoring = read_monitoring(reader, autoscaler.polling_interval_seconds if autoscaled else 0)
    verify_key = read_verify_key(reader)
    scheduler = read_scheduler(reader, api.idempotency_window_seconds)
    flower = read_flower(reader, tuple(w.name for w in workers))
    platform = read_platform(reader)
    gke = read_gke(reader, platform, tuple(w.name for w in workers), tasks.time_limit_seconds)
    cron_deadline = scheduler.retry.retry_window_seconds + CRON_STARTING_DEADLINE_SECONDS
    if platform == "gke" and not api.public and scheduler.schedules and cron_deadline >= api.idempotency_window_seconds:
        reader.fail(
            "scheduler",
            f"CronJob tick deadline {cron_deadline}s",
            f"shorter than api.idempotencyWindowSeconds ({api.idempotency_window_seconds}s): on GKE a "
            f"private API's schedules are CronJobs, whose last retry may post up to the start deadline "
            f"({CRON_STARTING_DEADLINE_SECONDS}s) + the retry window after the tick; lower scheduler.retryCount, "
            "maxBackoffSeconds or maxRetryDurationSeconds, or raise api.idempotencyWindowSeconds",
        )
    if platform == "gke" and flower.enabled:
        reader.fail(
            "flower.enabled",
            True,
            "false with platform: gke (Flower runs as a Cloud Run service; on GKE run it with "
            "`kubectl port-forward`, docs/kubernetes.md)",
        )
    beat = read_beat(reader, network.egress, scheduler.schedules)
    if platform == "gke" and beat.enabled:
        reader.fail(
            "beat.enabled",
            True,
            "false with platform: gke (the beat pool is a Cloud Run worker pool; on GKE use `schedules`, "
            "which run as Cloud Scheduler jobs or CronJobs, docs/kubernetes.md)",
        )

    if workers and all(w.min_instances == 0 for w in workers):
        # Workers export the queue gauges (docs/metrics.md); the API is request-billed and may be at zero.
        reader.fail(
            "workers[].minInstances",
            [w.min_instances for w in workers],
            "at least 1 on one worker group: a running worker exports every queue's depth, and with "
            "every group at zero no series exists (QueueMetricsAbsent would page, the backlog alerts go blind)",
        )
    check_connection_budget(reader, redis, api, workers, flower, beat)

    if is_prod_stack(stack):
        if redis.tier != "STANDARD_HA":
            reader.fail(
                "redis.tier",
                redis.tier,
                f"STANDARD_HA on the {stack} stack (high availability)",
            )
        if not deletion_protection:
            reader.fail(
                "deletionProtection", deletion_protection, f"true on the {stack} stack"
            )

    for key, command in missing_secret_values(api_keys, app_secrets):
        problem = (
            f"{key}: no value; set it before `pulumi up` (Cloud Run refuses a revision whose "
            f"secret has no version): {command}"
        )
        if pulumi.runtime.is_dry_run():
            pulumi.log.warn(problem + " (preview goes on; `pulumi up` stops here)")
        else:
            reader.problems.append(problem)

    if reader.problems:
        raise InvalidConfig(
            f"Invalid stack config for stack {stack!r} (Pulumi.{stack}.yaml), "
            f"{len(reader.problems)} problem(s):\n  - " + "\n  - ".join(reader.problems)
        )
    return Settings(
        project=project,
        region=region,
        stack=stack,
        name_prefix=name_prefix,
        deletion_protection=deletion_protection,
        log_level=log_level,
        registry=registry,
        network=network,
        redis=redis,
        api=api,
        workers=workers,
        autoscaler=autoscaler,
        tasks=tasks,
        app_secrets=app_secrets,
        api_keys=api_keys,
        monitoring=monitoring,
        verify_key=verify_key,
        scheduler=scheduler,
        flower=flower,
        beat=beat,
        platform=platform,
        gke=gke,
    )


def _gcp_setting(
    reader: ConfigReader,
    key: str,
    pattern: re.Pattern[str],
    allowed: str,
    missing: str,
) -> str:
    """``gcp:project`` / ``gcp:region``: the provider's keys, required by this program."""
    value = runtime_config.get_config(key)
    checked = reader.text(key, value, "", pattern, allowed)
    if value is None:
        reader.fail(key, None, missing)
    return checked
