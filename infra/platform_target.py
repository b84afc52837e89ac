"""What every platform target receives from the shared foundation, and what it hands back.

``__main__`` builds the foundation (APIs, registry, network, broker, identities, secrets, images,
the containers' environments) once; the Cloud Run target or the GKE target then declares the
workloads. Both read the same ``PlatformInputs`` and return a ``DeployedTarget``, so the
scheduled tasks and the exports are wired the same way on both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import runtime_contract
from autoscaling.spec import GroupScalingSpec
from foundation.broker import Broker
from foundation.identities import Identities
from foundation.images import Images
from foundation.network import Network
from foundation.project_apis import ProjectApis
from foundation.secret_store import SecretStore
from settings import Settings


@dataclass(frozen=True)
class PlatformInputs:
    settings: Settings
    apis: ProjectApis
    network: Network
    broker: Broker
    identities: Identities
    secrets: SecretStore
    images: Images
    shared_env: runtime_contract.ContainerEnvironment
    api_env: runtime_contract.ContainerEnvironment
    worker_envs: Mapping[str, runtime_contract.ContainerEnvironment]
    # Worker groups scaled on their queue's work ledger (autoscaling/spec.py): CREMA or KEDA.
    scaling: tuple[GroupScalingSpec, ...]
    # The audience of the Google ID tokens the API accepts (GOOGLE_ID_AUDIENCE).
    api_audience: pulumi.Input[str]


@dataclass(frozen=True)
class DeployedTarget:
    api: pulumi.Resource
    # Where Cloud Scheduler posts; None when it cannot reach the API (a private API on GKE,
    # whose schedules are CronJobs in the cluster).
    scheduler_url: pulumi.Input[str] | None
    # A private Cloud Run API's service name: Cloud Scheduler's account gets run.invoker on it.
    private_api_service: pulumi.Input[str] | None
    exports: dict[str, Any] = field(default_factory=dict)
