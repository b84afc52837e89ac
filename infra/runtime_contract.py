"""What the images expect from Cloud Run (docs/runtime-contract.md), as container settings.

Ports, health paths, mount paths and env var names live here once, for the API service, the
worker services and the worker pools alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp
from settings.services import ApiSettings
from settings.workers import WorkerGroupSettings
from task_contract import deployment as contract

PORT = 8080
API_LIVENESS_PATH = "/healthz"
API_STARTUP_PATH = "/readyz"
WORKER_HEALTH_PATH = "/healthz"

REDIS_CA_DIR = "/secrets/redis-ca"
REDIS_CA_FILE = f"{REDIS_CA_DIR}/ca.pem"
API_KEYS_DIR = "/secrets/api-keys"
API_KEYS_FILE = f"{API_KEYS_DIR}/keys"

# The worker's prometheus_client multiprocess directory (PROMETHEUS_MULTIPROC_DIR): an in-memory
# volume, so prefork children can write their counters while the image stays read-only.
METRICS_VOLUME = "prometheus-multiproc"
METRICS_DIR = "/run/prometheus-multiproc"
METRICS_DIR_SIZE = "32Mi"

EnvVar = gcp.cloudrunv2.ServiceTemplateContainerEnvArgsDict
Volume = gcp.cloudrunv2.ServiceTemplateVolumeArgsDict
VolumeMount = gcp.cloudrunv2.ServiceTemplateContainerVolumeMountArgsDict


@dataclass(frozen=True, kw_only=True)
class WorkloadArgs:
    """What every Cloud Run workload (the API service, a worker service or pool) is given."""

    project: str
    region: str
    service_name: str
    image: pulumi.Input[str]
    service_account_email: pulumi.Input[str]
    environment: ContainerEnvironment
    vpc_access: gcp.cloudrunv2.ServiceTemplateVpcAccessArgsDict
    deletion_protection: bool
    # The Managed Service for Prometheus sidecar, the `collector` container (monitoring/collector.py).
    collector_image: str
    depends_on: list[pulumi.Resource] = field(default_factory=list)


@dataclass(frozen=True)
class SecretRef:
    secret_id: pulumi.Input[str]
    version: pulumi.Input[str]


@dataclass(frozen=True)
class SecretFile:
    """A secret mounted as one file: ``directory/file_name``."""

    volume: str
    directory: str
    file_name: str
    ref: SecretRef


@dataclass(frozen=True)
class ContainerEnvironment:
    """Env, secret env and secret files for one container."""

    plain: Mapping[str, pulumi.Input[str]]
    secret: Mapping[str, SecretRef]
    files: Sequence[SecretFile]

    def plus(
        self,
        *,
        plain: Mapping[str, pulumi.Input[str]],
        secret: Mapping[str, SecretRef],
        files: Sequence[SecretFile] = (),
    ) -> ContainerEnvironment:
        """This environment with more variables, secret variables and files."""
        return ContainerEnvironment(
            plain={**self.plain, **plain},
            secret={**self.secret, **secret},
            files=[*self.files, *files],
        )

    def env(self) -> list[EnvVar]:
        variables: list[EnvVar] = [
            {"name": k, "value": v} for k, v in sorted(self.plain.items())
        ]
        for name, ref in sorted(self.secret.items()):
            variables.append(
                {
                    "name": name,
                    "value_source": {
                        "secret_key_ref": {
                            "secret": ref.secret_id,
                            "version": ref.version,
                        }
                    },
                }
            )
        return variables

    def volumes(self) -> list[Volume]:
        return [
            {
                "name": f.volume,
                "secret": {
                    "secret": f.ref.secret_id,
                    "items": [{"path": f.file_name, "version": f.ref.version}],
                },
            }
            for f in self.files
        ]

    def volume_mounts(self) -> list[VolumeMount]:
        return [{"name": f.volume, "mount_path": f.directory} for f in self.files]


def metrics_volume() -> Volume:
    return {"name": METRICS_VOLUME, "empty_dir": {"medium": "MEMORY", "size_limit": METRICS_DIR_SIZE}}


def metrics_volume_mount() -> VolumeMount:
    return {"name": METRICS_VOLUME, "mount_path": METRICS_DIR}


def shared_environment(
    *,
    redis_url: SecretRef,
    redis_ca: SecretRef | None,
    plain: Mapping[str, str],
) -> ContainerEnvironment:
    """What both the API and the workers get: the broker and its CA."""
    env = dict(plain)
    files: list[SecretFile] = []
    if redis_ca is not None:
        env[contract.REDIS_CA_FILE_ENV] = REDIS_CA_FILE
        files.append(SecretFile("redis-ca", REDIS_CA_DIR, "ca.pem", redis_ca))
    return ContainerEnvironment(
        plain=env, secret={contract.REDIS_URL_ENV: redis_url}, files=files
    )


@dataclass(frozen=True)
class IdTokenCallers:
    """Google service accounts whose ID tokens the API accepts, and the audience they must carry."""

    audience: pulumi.Input[str]
    emails: Sequence[str]


def api_environment(
    environment: ContainerEnvironment,
    *,
    api_keys: SecretRef,
    api: ApiSettings,
    app_secrets: Mapping[str, SecretRef],
    verify_key: SecretRef | None = None,
    id_token_callers: IdTokenCallers | None = None,
) -> ContainerEnvironment:
    """The shared environment plus what only the API reads: its keys, its serving processes, its
    Redis connection cap, its back-pressure limits and the app secrets it consumes.

    The deploy check's key (``verify_key``) arrives as ``API_KEYS``, which the API accepts besides
    the keys in ``API_KEYS_FILE``: a secret of its own, so the deployer never needs to read the
    clients' keys (docs/delivery.md).
    """
    verify = {"API_KEYS": verify_key} if verify_key is not None else {}
    # Google ID tokens accepted besides the keys (docs/schedules.md).
    callers: dict[str, pulumi.Input[str]] = (
        {}
        if id_token_callers is None
        else {
            "GOOGLE_ID_AUDIENCE": id_token_callers.audience,
            "SCHEDULER_CALLERS": ",".join(id_token_callers.emails),
        }
    )
    return environment.plus(
        plain={
            contract.API_KEYS_FILE_ENV: API_KEYS_FILE,
            # Past the cap a request waits for a connection; it stays above Cloud Run's concurrency.
            contract.REDIS_MAX_CONNECTIONS_ENV: str(api.redis_max_connections),
            contract.WEB_CONCURRENCY_ENV: str(api.web_concurrency),
            contract.MAX_QUEUE_LENGTH_ENV: str(api.max_queue_length),
            **_listed(contract.MAX_QUEUE_LENGTHS_ENV, [f"{q}={n}" for q, n in api.max_queue_lengths]),
            "IDEMPOTENCY_WINDOW_SECONDS": str(api.idempotency_window_seconds),
            **callers,
        },
        secret={**app_secrets, **verify},
        files=[SecretFile("api-keys", API_KEYS_DIR, "keys", api_keys)],
    )


def _listed(name: str, items: Sequence[str]) -> dict[str, str]:
    """``{name: "a,b"}``, or nothing when there are no items (the image's default applies)."""
    return {name: ",".join(items)} if items else {}


def worker_environment(
    environment: ContainerEnvironment,
    *,
    group: WorkerGroupSettings,
    app_secrets: Mapping[str, SecretRef],
    send_events: bool = False,
) -> ContainerEnvironment:
    """The shared environment plus what one worker group reads: its queues, pool, processes and
    concurrency, where external_call may connect, the app secrets it consumes and whether it
    sends task events and heartbeats (Flower)."""
    return environment.plus(
        plain={
            contract.WORKER_QUEUES_ENV: ",".join(group.queues),
            contract.WORKER_POOL_ENV: group.pool,
            contract.WORKER_CONCURRENCY_ENV: str(group.concurrency),
            contract.WORKER_PROCESSES_ENV: str(group.processes),
            # Unset: external_call may connect nowhere (the worker's default).
            **_listed(contract.EXTERNAL_CALL_ALLOWED_HOSTS_ENV, group.external_call_hosts),
            **_listed(contract.EXTERNAL_CALL_ALLOWED_NETWORKS_ENV, group.external_call_networks),
            contract.METRICS_DIR_ENV: METRICS_DIR,
            **({"WORKER_EVENTS": "true"} if send_events else {}),
        },
        secret=app_secrets,
    )


def http_probe(
    path: str, *, period_seconds: int, failure_threshold: int, timeout_seconds: int
) -> Any:
    """An HTTP GET probe on the container port, for startup or liveness.

    One shape for every workload: pulumi-gcp types a service's startup and liveness probes and a
    worker pool's as four unrelated TypedDicts with the same fields, hence ``Any``; the
    inventories (tests/infra/inventory) pin what each resource receives.
    """
    return {
        "http_get": {"path": path, "port": PORT},
        "period_seconds": period_seconds,
        "failure_threshold": failure_threshold,
        "timeout_seconds": timeout_seconds,
    }
