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
from .beat import BEAT_KEYS, BeatEntry, BeatSettings, read_beat, refuse_beat_on_gke
from .connection_budget import check_connection_budget
from .flower import FLOWER_KEYS, FlowerSettings, read_flower, refuse_flower_on_gke
from .gcp import read_project, read_region
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
    SCHEDULE_KEYS,
    SCHEDULER_KEYS,
    Schedule,
    SchedulerRetry,
    SchedulerSettings,
    check_cron_tick_deadline,
    read_scheduler,
)
from .rollout import ROLLOUT_KEYS, ApiRolloutSettings
from .secrets import (
    AppSecret,
    read_api_keys,
    read_app_secrets,
    read_verify_key,
    report_missing_secret_values,
)
from .workers import (
    WORKER_KEYS,
    WorkerGroupSettings,
    WorkerKind,
    check_queue_gauges_exported,
    read_workers,
)
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

    project = read_project(reader)
    region = read_region(reader)
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
    check_cron_tick_deadline(reader, platform, api, scheduler)
    refuse_flower_on_gke(reader, platform, flower)
    beat = read_beat(reader, network.egress, scheduler.schedules)
    refuse_beat_on_gke(reader, platform, beat)

    check_queue_gauges_exported(reader, workers)
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

    report_missing_secret_values(reader, api_keys, app_secrets)

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
