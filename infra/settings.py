"""Stack configuration, read once into frozen, validated settings.

Every key of the ``cloudrun-celery:`` namespace is read here and nowhere else. A bad value
raises ``InvalidConfig`` before any resource is declared; the message names the key, the
value and what is allowed, one line per problem, so a single ``pulumi preview`` shows them all.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import pulumi
from pulumi.runtime import config as runtime_config

PROJECT = "cloudrun-celery"

Egress = Literal["connector", "direct"]
WorkerKind = Literal["service", "workerPool"]

# Cloud Run CPU -> (min, max) memory in MiB. Min is 512 MiB throughout: the second-generation
# execution environment (always used by worker pools) and CPU-always-allocated both need it.
# https://cloud.google.com/run/docs/configuring/services/memory-limits
CPU_MEMORY_MIB: dict[str, tuple[int, int]] = {
    "1": (512, 4096),
    "2": (512, 8192),
    "4": (2048, 16384),
    "6": (4096, 24576),
    "8": (4096, 32768),
}
CONNECTOR_MACHINE_TYPES = ("f1-micro", "e2-micro", "e2-standard-4")
REDIS_TIERS = ("BASIC", "STANDARD_HA")
REDIS_VERSIONS = ("REDIS_6_X", "REDIS_7_0", "REDIS_7_2")
WEEKDAYS = (
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
)
# The pools the worker image accepts (services/worker/worker/config.py): only those whose SIGTERM
# path is tested. Anything else would pass preview and crash-loop on Cloud Run.
WORKER_POOLS = ("threads", "prefork")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

NAME_PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{1,13}[a-z0-9]$")
CONNECTOR_NAME_RE = re.compile(r"^[a-z][-a-z0-9]{0,23}[a-z0-9]$")
WORKER_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
QUEUE_NAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")
SECRET_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
PROJECT_ID_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
MEMORY_RE = re.compile(r"^([1-9][0-9]*)(Mi|Gi)$")


class InvalidConfig(pulumi.RunError):
    """One or more stack config values are invalid. Raised before any resource exists."""


@dataclass(frozen=True)
class RegistrySettings:
    keep_recent_versions: int
    delete_untagged_after_days: int


@dataclass(frozen=True)
class ConnectorSettings:
    name: str
    cidr: str
    min_instances: int
    max_instances: int
    machine_type: str


@dataclass(frozen=True)
class NetworkSettings:
    egress: Egress
    subnet_cidr: str
    connector: ConnectorSettings


@dataclass(frozen=True)
class MaintenanceWindow:
    day: str
    hour: int


@dataclass(frozen=True)
class RedisSettings:
    tier: str
    memory_size_gb: int
    version: str
    transit_encryption: bool
    maintenance_window: MaintenanceWindow


@dataclass(frozen=True)
class ContainerSize:
    cpu: str
    memory: str


@dataclass(frozen=True)
class ApiSettings:
    public: bool
    size: ContainerSize
    min_instances: int
    max_instances: int
    concurrency: int
    timeout_seconds: int


@dataclass(frozen=True)
class WorkerGroupSettings:
    name: str
    queues: tuple[str, ...]
    kind: WorkerKind
    size: ContainerSize
    min_instances: int
    max_instances: int
    concurrency: int
    pool: str


@dataclass(frozen=True)
class TaskSettings:
    time_limit_seconds: int
    result_ttl_seconds: int


@dataclass(frozen=True)
class AppSecret:
    """An extra application secret; the services see it as env var ``env_var``."""

    name: str
    env_var: str
    value: pulumi.Output[str] | None


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
    tasks: TaskSettings
    app_secrets: tuple[AppSecret, ...]
    api_keys: pulumi.Output[str] | None

    @property
    def is_prod(self) -> bool:
        return is_prod_stack(self.stack)


def is_prod_stack(stack: str) -> bool:
    return stack == "prod" or stack.startswith("prod-")


# Top-level keys of the cloudrun-celery namespace and their nested keys (None: a scalar).
TOP_LEVEL_KEYS: dict[str, frozenset[str] | None] = {
    "namePrefix": None,
    "deletionProtection": None,
    "logLevel": None,
    "registry": frozenset({"keepRecentVersions", "deleteUntaggedAfterDays"}),
    "network": frozenset({"egress", "subnetCidr", "connector"}),
    "redis": frozenset(
        {"tier", "memorySizeGb", "version", "transitEncryption", "maintenanceWindow"}
    ),
    "api": frozenset(
        {
            "public",
            "cpu",
            "memory",
            "minInstances",
            "maxInstances",
            "concurrency",
            "timeoutSeconds",
        }
    ),
    "workers": None,
    "tasks": frozenset({"timeLimitSeconds", "resultTtlSeconds"}),
    "appSecrets": None,
    "appSecretValues": None,
    "apiKeys": None,
}
CONNECTOR_KEYS = frozenset(
    {"name", "cidr", "minInstances", "maxInstances", "machineType"}
)
MAINTENANCE_KEYS = frozenset({"day", "hour"})
WORKER_KEYS = frozenset(
    {
        "name",
        "queues",
        "kind",
        "cpu",
        "memory",
        "minInstances",
        "maxInstances",
        "concurrency",
        "pool",
    }
)
# Secret ids the stack itself uses, and env vars the runtime contract already defines.
RESERVED_SECRET_NAMES = frozenset({"redis-url", "redis-ca", "api-keys"})
RESERVED_ENV_VARS = frozenset(
    {
        "PORT",
        "REDIS_URL",
        "RESULT_BACKEND_URL",
        "REDIS_CA_FILE",
        "REDIS_CONNECT_TIMEOUT_SECONDS",
        "TASK_TIME_LIMIT_SECONDS",
        "VISIBILITY_TIMEOUT_SECONDS",
        "RESULT_TTL_SECONDS",
        "API_KEYS",
        "API_KEYS_FILE",
        "IDEMPOTENCY_WINDOW_SECONDS",
        "MAX_BODY_BYTES",
        "WORKER_QUEUES",
        "WORKER_POOL",
        "WORKER_CONCURRENCY",
        "LOG_LEVEL",
    }
)

T = TypeVar("T")


class _Reader:
    """Collects every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, key: str, value: Any, allowed: str) -> None:
        self.problems.append(f"{key}: got {_show(value)}; allowed: {allowed}")

    def raw(self, key: str) -> str | None:
        value = runtime_config.get_config(f"{PROJECT}:{key}")
        return None if value is None else str(value)

    def json_value(self, key: str) -> Any:
        text = self.raw(key)
        if text is None:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            # A plain string in the stack file arrives unquoted.
            return text

    def object(
        self, key: str, allowed_keys: frozenset[str], value: Any
    ) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(key, value, f"an object with keys {_keys(allowed_keys)}")
            return {}
        for unknown in sorted(set(value) - allowed_keys):
            self.fail(
                f"{key}.{unknown}",
                value[unknown],
                f"one of the keys {_keys(allowed_keys)}",
            )
        return cast(dict[str, Any], value)

    def integer(self, key: str, value: Any, default: int, low: int, high: int) -> int:
        if value is None:
            return default
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, value, f"an integer from {low} to {high}")
            return default
        if not low <= value <= high:
            self.fail(key, value, f"an integer from {low} to {high}")
            return default
        return value

    def boolean(self, key: str, value: Any, default: bool) -> bool:
        if value is None:
            return default
        if value in ("true", "false"):
            return str(value) == "true"
        if not isinstance(value, bool):
            self.fail(key, value, "true or false")
            return default
        return bool(value)

    def choice(self, key: str, value: Any, default: T, choices: tuple[T, ...]) -> T:
        if value is None:
            return default
        if value not in choices:
            self.fail(key, value, " | ".join(str(c) for c in choices))
            return default
        return cast(T, value)

    def text(
        self, key: str, value: Any, default: str, pattern: re.Pattern[str], allowed: str
    ) -> str:
        if value is None:
            return default
        if not isinstance(value, str) or not pattern.fullmatch(value):
            self.fail(key, value, allowed)
            return default
        return value


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def _keys(keys: frozenset[str]) -> str:
    return ", ".join(sorted(keys))


def _all_config_keys() -> set[str]:
    # The language host hands the whole stack config to set_all_config; unknown keys are only
    # visible by listing it.
    return set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())


def memory_mib(memory: str) -> int:
    match = MEMORY_RE.fullmatch(memory)
    if match is None:
        raise ValueError(memory)
    amount, unit = int(match.group(1)), match.group(2)
    return amount * 1024 if unit == "Gi" else amount


def _container_size(
    reader: _Reader, key: str, cpu: Any, memory: Any, default: ContainerSize
) -> ContainerSize:
    cpu_text = (
        default.cpu if cpu is None else str(cpu) if isinstance(cpu, (int, str)) else cpu
    )
    if cpu_text not in CPU_MEMORY_MIB:
        reader.fail(f"{key}.cpu", cpu, " | ".join(CPU_MEMORY_MIB))
        return default
    memory_text = default.memory if memory is None else memory
    if not isinstance(memory_text, str) or not MEMORY_RE.fullmatch(memory_text):
        reader.fail(f"{key}.memory", memory, "a size like 512Mi or 2Gi")
        return default
    low, high = CPU_MEMORY_MIB[cpu_text]
    if not low <= memory_mib(memory_text) <= high:
        reader.fail(
            f"{key}.memory",
            memory_text,
            f"{low}Mi to {high // 1024}Gi with cpu {cpu_text} (Cloud Run CPU/memory limits)",
        )
        return default
    return ContainerSize(cpu=cpu_text, memory=memory_text)


def _min_max(reader: _Reader, key: str, minimum: int, maximum: int) -> None:
    if minimum > maximum:
        reader.fail(
            f"{key}.minInstances",
            minimum,
            f"at most {key}.maxInstances ({maximum})",
        )


def _cidr(
    reader: _Reader, key: str, value: Any, default: str, prefix: tuple[int, int]
) -> str:
    low, high = prefix
    allowed = (
        f"a private IPv4 range /{low}"
        if low == high
        else f"a private IPv4 range from /{low} to /{high}"
    )
    if value is None:
        return default
    try:
        network = ipaddress.ip_network(str(value), strict=True)
    except ValueError:
        reader.fail(key, value, allowed)
        return default
    if (
        network.version != 4
        or not network.is_private
        or not low <= network.prefixlen <= high
    ):
        reader.fail(key, value, allowed)
        return default
    return str(network)


DEFAULT_WORKERS: list[dict[str, Any]] = [
    {"name": "fast", "queues": ["high", "default"]},
    {"name": "bulk", "queues": ["low"]},
]


def load_settings() -> Settings:
    """Read and validate the whole stack config. Raises ``InvalidConfig`` listing every problem."""
    reader = _Reader()
    stack = pulumi.get_stack()

    for full_key in sorted(_all_config_keys()):
        namespace, _, key = full_key.partition(":")
        if namespace == PROJECT and key not in TOP_LEVEL_KEYS:
            reader.fail(
                full_key,
                reader.raw(key),
                f"one of the keys {_keys(frozenset(TOP_LEVEL_KEYS))}",
            )

    gcp_project = runtime_config.get_config("gcp:project")
    project = reader.text(
        "gcp:project",
        gcp_project,
        "",
        PROJECT_ID_RE,
        "a GCP project id (6-30 chars, a-z 0-9 -)",
    )
    if gcp_project is None:
        reader.fail(
            "gcp:project",
            None,
            "your GCP project id: pulumi config set gcp:project <id>",
        )
    gcp_region = runtime_config.get_config("gcp:region")
    region = reader.text(
        "gcp:region", gcp_region, "", REGION_RE, "a GCP region such as europe-west1"
    )
    if gcp_region is None:
        reader.fail(
            "gcp:region",
            None,
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

    registry_cfg = reader.object(
        "registry",
        cast(frozenset[str], TOP_LEVEL_KEYS["registry"]),
        reader.json_value("registry"),
    )
    registry = RegistrySettings(
        keep_recent_versions=reader.integer(
            "registry.keepRecentVersions",
            registry_cfg.get("keepRecentVersions"),
            10,
            1,
            1000,
        ),
        delete_untagged_after_days=reader.integer(
            "registry.deleteUntaggedAfterDays",
            registry_cfg.get("deleteUntaggedAfterDays"),
            7,
            1,
            365,
        ),
    )

    network = _network(reader, name_prefix)
    redis = _redis(reader)
    api = _api(reader)
    workers = _workers(reader, network.egress)
    tasks_cfg = reader.object(
        "tasks",
        cast(frozenset[str], TOP_LEVEL_KEYS["tasks"]),
        reader.json_value("tasks"),
    )
    tasks = TaskSettings(
        time_limit_seconds=reader.integer(
            "tasks.timeLimitSeconds", tasks_cfg.get("timeLimitSeconds"), 600, 1, 86400
        ),
        result_ttl_seconds=reader.integer(
            "tasks.resultTtlSeconds",
            tasks_cfg.get("resultTtlSeconds"),
            86400,
            60,
            2592000,
        ),
    )
    app_secrets = _app_secrets(reader)
    api_keys = _api_keys(reader)

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
        tasks=tasks,
        app_secrets=app_secrets,
        api_keys=api_keys,
    )


def _network(reader: _Reader, name_prefix: str) -> NetworkSettings:
    cfg = reader.object(
        "network",
        cast(frozenset[str], TOP_LEVEL_KEYS["network"]),
        reader.json_value("network"),
    )
    egress: Egress = reader.choice(
        "network.egress", cfg.get("egress"), "connector", ("connector", "direct")
    )
    # Direct VPC egress takes instance IPs from this subnet; Cloud Run asks for /26 or larger.
    subnet_cidr = _cidr(
        reader, "network.subnetCidr", cfg.get("subnetCidr"), "10.10.0.0/24", (8, 26)
    )
    conn = reader.object("network.connector", CONNECTOR_KEYS, cfg.get("connector"))
    name = reader.text(
        "network.connector.name",
        conn.get("name"),
        f"{name_prefix}-conn",
        CONNECTOR_NAME_RE,
        "at most 25 chars of a-z 0-9 -, starting with a letter (Serverless VPC Access limit)",
    )
    cidr = _cidr(
        reader, "network.connector.cidr", conn.get("cidr"), "10.8.0.0/28", (28, 28)
    )
    min_instances = reader.integer(
        "network.connector.minInstances", conn.get("minInstances"), 2, 2, 9
    )
    max_instances = reader.integer(
        "network.connector.maxInstances", conn.get("maxInstances"), 3, 3, 10
    )
    if min_instances >= max_instances:
        reader.fail(
            "network.connector.minInstances",
            min_instances,
            f"less than network.connector.maxInstances ({max_instances})",
        )
    machine_type = reader.choice(
        "network.connector.machineType",
        conn.get("machineType"),
        "e2-micro",
        CONNECTOR_MACHINE_TYPES,
    )
    if ipaddress.ip_network(cidr).overlaps(ipaddress.ip_network(subnet_cidr)):
        reader.fail(
            "network.connector.cidr",
            cidr,
            f"a /28 outside network.subnetCidr ({subnet_cidr})",
        )
    return NetworkSettings(
        egress=egress,
        subnet_cidr=subnet_cidr,
        connector=ConnectorSettings(
            name=name,
            cidr=cidr,
            min_instances=min_instances,
            max_instances=max_instances,
            machine_type=machine_type,
        ),
    )


def _redis(reader: _Reader) -> RedisSettings:
    cfg = reader.object(
        "redis",
        cast(frozenset[str], TOP_LEVEL_KEYS["redis"]),
        reader.json_value("redis"),
    )
    window = reader.object(
        "redis.maintenanceWindow", MAINTENANCE_KEYS, cfg.get("maintenanceWindow")
    )
    return RedisSettings(
        tier=reader.choice("redis.tier", cfg.get("tier"), "STANDARD_HA", REDIS_TIERS),
        memory_size_gb=reader.integer(
            "redis.memorySizeGb", cfg.get("memorySizeGb"), 1, 1, 300
        ),
        version=reader.choice(
            "redis.version", cfg.get("version"), "REDIS_7_2", REDIS_VERSIONS
        ),
        transit_encryption=reader.boolean(
            "redis.transitEncryption", cfg.get("transitEncryption"), True
        ),
        maintenance_window=MaintenanceWindow(
            day=reader.choice(
                "redis.maintenanceWindow.day", window.get("day"), "SUNDAY", WEEKDAYS
            ),
            hour=reader.integer(
                "redis.maintenanceWindow.hour", window.get("hour"), 3, 0, 23
            ),
        ),
    )


def _api(reader: _Reader) -> ApiSettings:
    cfg = reader.object(
        "api", cast(frozenset[str], TOP_LEVEL_KEYS["api"]), reader.json_value("api")
    )
    min_instances = reader.integer(
        "api.minInstances", cfg.get("minInstances"), 0, 0, 1000
    )
    max_instances = reader.integer(
        "api.maxInstances", cfg.get("maxInstances"), 10, 1, 1000
    )
    _min_max(reader, "api", min_instances, max_instances)
    return ApiSettings(
        public=reader.boolean("api.public", cfg.get("public"), False),
        size=_container_size(
            reader,
            "api",
            cfg.get("cpu"),
            cfg.get("memory"),
            ContainerSize("1", "512Mi"),
        ),
        min_instances=min_instances,
        max_instances=max_instances,
        concurrency=reader.integer(
            "api.concurrency", cfg.get("concurrency"), 80, 1, 1000
        ),
        timeout_seconds=reader.integer(
            "api.timeoutSeconds", cfg.get("timeoutSeconds"), 60, 1, 3600
        ),
    )


def _workers(reader: _Reader, egress: Egress) -> tuple[WorkerGroupSettings, ...]:
    raw = reader.json_value("workers")
    if raw is None:
        raw = DEFAULT_WORKERS
    if not isinstance(raw, list) or not raw:
        reader.fail(
            "workers", raw, "a non-empty list of worker groups ({name, queues, ...})"
        )
        return ()
    groups: list[WorkerGroupSettings] = []
    seen_names: set[str] = set()
    seen_queues: dict[str, str] = {}
    for index, item in enumerate(raw):
        key = f"workers[{index}]"
        cfg = reader.object(key, WORKER_KEYS, item)
        if not cfg:
            if item is not None and isinstance(item, dict):
                reader.fail(key, item, "an object with at least name and queues")
            continue
        name = reader.text(
            f"{key}.name",
            cfg.get("name"),
            "",
            WORKER_NAME_RE,
            "1-10 chars of a-z 0-9, starting with a letter",
        )
        if "name" not in cfg:
            reader.fail(
                f"{key}.name", None, "1-10 chars of a-z 0-9, starting with a letter"
            )
        if name and name in seen_names:
            reader.fail(f"{key}.name", name, "a name no other worker group uses")
        seen_names.add(name)
        queues_raw = cfg.get("queues")
        if isinstance(queues_raw, str):
            queues_raw = [q.strip() for q in queues_raw.split(",")]
        queues: list[str] = []
        if not isinstance(queues_raw, list) or not queues_raw:
            reader.fail(f"{key}.queues", queues_raw, "a non-empty list of queue names")
        else:
            for queue in queues_raw:
                if not isinstance(queue, str) or not QUEUE_NAME_RE.fullmatch(queue):
                    reader.fail(f"{key}.queues", queue, "queue names of a-z 0-9 _ . -")
                elif queue in seen_queues:
                    reader.fail(
                        f"{key}.queues",
                        queue,
                        f"a queue not already consumed by worker group {seen_queues[queue]!r}",
                    )
                else:
                    seen_queues[queue] = name
                    queues.append(queue)
        kind: WorkerKind = reader.choice(
            f"{key}.kind", cfg.get("kind"), "service", ("service", "workerPool")
        )
        if kind == "workerPool" and egress != "direct":
            reader.fail(
                f"{key}.kind",
                kind,
                "service, or workerPool together with network.egress: direct "
                "(worker pools cannot use a VPC connector)",
            )
        # A Celery worker consumes outside requests: with fewer than one instance it never runs.
        min_instances = reader.integer(
            f"{key}.minInstances", cfg.get("minInstances"), 1, 1, 1000
        )
        max_instances = reader.integer(
            f"{key}.maxInstances", cfg.get("maxInstances"), 3, 1, 1000
        )
        _min_max(reader, key, min_instances, max_instances)
        groups.append(
            WorkerGroupSettings(
                name=name,
                queues=tuple(queues),
                kind=kind,
                size=_container_size(
                    reader,
                    key,
                    cfg.get("cpu"),
                    cfg.get("memory"),
                    ContainerSize("1", "1Gi"),
                ),
                min_instances=min_instances,
                max_instances=max_instances,
                concurrency=reader.integer(
                    f"{key}.concurrency", cfg.get("concurrency"), 50, 1, 1000
                ),
                pool=reader.choice(
                    f"{key}.pool", cfg.get("pool"), "threads", WORKER_POOLS
                ),
            )
        )
    return tuple(groups)


def _secret_raw(reader: _Reader, key: str) -> str | None:
    value = reader.raw(key)
    if value is not None and not runtime_config.is_config_secret(f"{PROJECT}:{key}"):
        reader.fail(
            key,
            "<plaintext, not shown>",
            f"a secret: pulumi config set --secret {PROJECT}:{key} ... (plaintext would sit in the stack file)",
        )
        return None
    return value


def _app_secrets(reader: _Reader) -> tuple[AppSecret, ...]:
    names_raw = reader.json_value("appSecrets")
    names: list[str] = []
    if names_raw is not None:
        if not isinstance(names_raw, list):
            reader.fail("appSecrets", names_raw, "a list of secret names")
        else:
            for name in names_raw:
                if not isinstance(name, str) or not SECRET_NAME_RE.fullmatch(name):
                    reader.fail(
                        "appSecrets",
                        name,
                        "names of 2-40 chars a-z 0-9 -, starting with a letter",
                    )
                elif name in names:
                    reader.fail("appSecrets", name, "each name once")
                elif (
                    name in RESERVED_SECRET_NAMES or _env_var(name) in RESERVED_ENV_VARS
                ):
                    reader.fail(
                        "appSecrets",
                        name,
                        "a name that is not one of the stack's own secrets "
                        f"({', '.join(sorted(RESERVED_SECRET_NAMES))}) and whose env var "
                        f"{_env_var(name)} is not set by the runtime contract",
                    )
                else:
                    names.append(name)
    values: Mapping[str, Any] = {}
    values_raw = _secret_raw(reader, "appSecretValues")
    if values_raw is not None:
        try:
            parsed = json.loads(values_raw)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict) or not all(
            isinstance(v, str) for v in parsed.values()
        ):
            reader.fail(
                "appSecretValues",
                "<secret, not shown>",
                "an object of secret name -> string value",
            )
        else:
            values = parsed
            for unknown in sorted(set(values) - set(names)):
                reader.fail(
                    "appSecretValues",
                    unknown,
                    f"a name listed in appSecrets ({', '.join(names) or 'none'})",
                )
    return tuple(
        AppSecret(
            name=name,
            env_var=_env_var(name),
            value=pulumi.Output.secret(str(values[name])) if name in values else None,
        )
        for name in names
    )


def _env_var(secret_name: str) -> str:
    return secret_name.upper().replace("-", "_")


def _api_keys(reader: _Reader) -> pulumi.Output[str] | None:
    raw = _secret_raw(reader, "apiKeys")
    if raw is None:
        return None
    keys = [k.strip() for k in re.split(r"[,\n]", raw) if k.strip()]
    if not keys:
        reader.fail(
            "apiKeys",
            "<secret, not shown>",
            "one or more API keys, comma- or newline-separated",
        )
        return None
    # The API reads one key per line (API_KEYS_FILE).
    return pulumi.Output.secret("\n".join(keys) + "\n")
