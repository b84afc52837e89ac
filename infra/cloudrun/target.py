"""``platform: cloudrun``: the API, the worker services and pools, the autoscaler, Flower and beat.

Called by ``__main__`` with the shared foundation (``platform_target.PlatformInputs``).
"""

from __future__ import annotations

import pulumi
import runtime_contract
from cloudrun.api_service import ApiService, ApiServiceArgs
from cloudrun.beat_pool import BeatPool, BeatPoolArgs, beat_environment
from autoscaling.autoscaler import Autoscaler, AutoscalerArgs
from cloudrun.flower_service import FlowerService, FlowerServiceArgs
from platform_target import DeployedTarget, PlatformInputs
from cloudrun.worker_service import WorkerService, WorkerServiceArgs


def deploy_to_cloudrun(inputs: PlatformInputs) -> DeployedTarget:
    settings, secrets, identities = inputs.settings, inputs.secrets, inputs.identities
    prefix, project, region = settings.name_prefix, settings.project, settings.region
    network, apis = inputs.network, inputs.apis
    service_deps = [*secrets.access, *apis.needed_by("run")]
    api = ApiService(
        "api",
        ApiServiceArgs(
            project=project,
            region=region,
            service_name=f"{prefix}-api",
            settings=settings.api,
            image=inputs.images.api,
            service_account_email=identities.api.email,
            environment=inputs.api_env,
            vpc_access=network.vpc_access(),
            deletion_protection=settings.deletion_protection,
            collector_image=settings.monitoring.collector_image,
            depends_on=service_deps,
        ),
    )
    workers = {
        group.name: WorkerService(
            f"worker-{group.name}",
            WorkerServiceArgs(
                project=project,
                region=region,
                service_name=f"{prefix}-worker-{group.name}",
                settings=group,
                image=inputs.images.worker,
                service_account_email=identities.workers[group.name].email,
                environment=inputs.worker_envs[group.name],
                vpc_access=network.vpc_access(),
                deletion_protection=settings.deletion_protection,
                collector_image=settings.monitoring.collector_image,
                depends_on=service_deps,
            ),
        )
        for group in settings.workers
    }
    exports: dict[str, object] = {}
    if inputs.scaling:
        autoscaler = Autoscaler(
            "autoscaler",
            AutoscalerArgs(
                project=project,
                region=region,
                name_prefix=prefix,
                image=settings.autoscaler.image,
                specs=inputs.scaling,
                pools={s.group: workers[s.group].require_pool() for s in inputs.scaling},
                pool_accounts={s.group: identities.workers[s.group] for s in inputs.scaling},
                broker_address=pulumi.Output.concat(
                    inputs.broker.instance.host, ":", inputs.broker.instance.port.apply(str)
                ),
                password_secret=secrets.secrets["redis-auth"],
                ca_secret=secrets.secrets.get("redis-ca"),
                vpc_access=network.vpc_access(),
                deletion_protection=settings.deletion_protection,
                depends_on=apis.needed_by("iam", "run", "parametermanager", "secretmanager"),
            ),
        )
        exports["autoscaler_service"] = autoscaler.service.name

    # Flower and beat see the broker and nothing else.
    broker_env = runtime_contract.ContainerEnvironment(
        plain=inputs.shared_env.plain,
        secret={"REDIS_URL": secrets.refs["redis-url"]},
        files=inputs.shared_env.files,
    )
    beat_pool: pulumi.Output[str] | None = None
    if identities.beat is not None:
        beat = BeatPool(
            "beat",
            BeatPoolArgs(
                project=project,
                region=region,
                pool_name=f"{prefix}-beat",
                settings=settings.beat,
                image=inputs.images.worker,
                service_account_email=identities.beat.email,
                environment=beat_environment(broker_env, settings.beat),
                vpc_access=network.vpc_access(),
                deletion_protection=settings.deletion_protection,
                depends_on=service_deps,
            ),
        )
        beat_pool = beat.pool.name

    flower_url: pulumi.Output[str] | None = None
    if identities.flower is not None:
        flower = FlowerService(
            "flower",
            FlowerServiceArgs(
                project=project,
                region=region,
                service_name=f"{prefix}-flower",
                image=inputs.images.worker,
                service_account_email=identities.flower.email,
                environment=broker_env,
                vpc_access=network.vpc_access(),
                deletion_protection=settings.deletion_protection,
                collector_image=settings.monitoring.collector_image,
                depends_on=service_deps,
            ),
        )
        flower_url = flower.url

    return DeployedTarget(
        api=api,
        # Its deterministic URL, also the tokens' audience (docs/schedules.md).
        scheduler_url=inputs.api_audience,
        private_api_service=None if settings.api.public else api.service.name,
        exports={
            "api_url": api.url,
            # The API rollout (docs/delivery.md): deploy.yml verifies the candidate URL, then promotes it.
            "api_candidate_url": api.candidate_url,
            "api_latest_revision": api.latest_revision,
            "api_serving_revision": api.serving_revision,
            "worker_services": {name: worker.name for name, worker in workers.items()},
            **exports,
            "flower_url": flower_url,
            "beat_pool": beat_pool,
        },
    )

