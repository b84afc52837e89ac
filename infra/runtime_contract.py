"""What the images expect from Cloud Run (docs/runtime-contract.md), as container settings.

Ports, health paths, mount paths and env var names live here once, for the API service, the
worker services and the worker pools alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
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

EnvVar = gcp.cloudrunv2.ServiceTemplateContainerEnvArgsDict
Volume = gcp.cloudrunv2.ServiceTemplateVolumeArgsDict
VolumeMount = gcp.cloudrunv2.ServiceTemplateContainerVolumeMountArgsDict


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


# Connections the API may hold to Redis beyond one per concurrent request (its /metrics and
# /readyz client, background clean-ups).
REDIS_CONNECTIONS_HEADROOM = 20


@dataclass(frozen=True)
class IdTokenCallers:
    """Google service accounts whose ID tokens the API accepts, and the audience they must carry."""

    audience: pulumi.Input[str]
    emails: Sequence[str]


def api_environment(
    environment: ContainerEnvironment,
    *,
    api_keys: SecretRef,
    request_concurrency: int,
    app_secrets: Mapping[str, SecretRef],
    verify_key: SecretRef | None = None,
    idempotency_window_seconds: int,
    id_token_callers: IdTokenCallers | None = None,
) -> ContainerEnvironment:
    """The shared environment plus what only the API reads: its keys, its Redis connection cap
    and the app secrets it consumes.

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
    return ContainerEnvironment(
        plain={
            **environment.plain,
            contract.API_KEYS_FILE_ENV: API_KEYS_FILE,
            # Past the cap a request gets 503 at once; it must stay above Cloud Run's concurrency.
            contract.REDIS_MAX_CONNECTIONS_ENV: str(request_concurrency + REDIS_CONNECTIONS_HEADROOM),
            "IDEMPOTENCY_WINDOW_SECONDS": str(idempotency_window_seconds),
            **callers,
        },
        secret={**environment.secret, **app_secrets, **verify},
        files=[
            *environment.files,
            SecretFile("api-keys", API_KEYS_DIR, "keys", api_keys),
        ],
    )


def worker_environment(
    environment: ContainerEnvironment,
    *,
    group: WorkerGroupSettings,
    app_secrets: Mapping[str, SecretRef],
    send_events: bool = False,
) -> ContainerEnvironment:
    """The shared environment plus what one worker group reads: its queues, pool, concurrency,
    the app secrets it consumes and whether it sends task events and heartbeats (Flower)."""
    return ContainerEnvironment(
        plain={
            **environment.plain,
            contract.WORKER_QUEUES_ENV: ",".join(group.queues),
            contract.WORKER_POOL_ENV: group.pool,
            contract.WORKER_CONCURRENCY_ENV: str(group.concurrency),
            **({"WORKER_EVENTS": "true"} if send_events else {}),
        },
        secret={**environment.secret, **app_secrets},
        files=environment.files,
    )


def startup_probe(
    path: str, *, period_seconds: int, failure_threshold: int, timeout_seconds: int
) -> gcp.cloudrunv2.ServiceTemplateContainerStartupProbeArgsDict:
    return {
        "http_get": {"path": path, "port": PORT},
        "period_seconds": period_seconds,
        "failure_threshold": failure_threshold,
        "timeout_seconds": timeout_seconds,
    }


def liveness_probe(
    path: str, *, period_seconds: int, failure_threshold: int, timeout_seconds: int
) -> gcp.cloudrunv2.ServiceTemplateContainerLivenessProbeArgsDict:
    return {
        "http_get": {"path": path, "port": PORT},
        "period_seconds": period_seconds,
        "failure_threshold": failure_threshold,
        "timeout_seconds": timeout_seconds,
    }
