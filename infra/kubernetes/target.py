"""``platform: gke``: the cluster, the Workload Identity grants and the Kubernetes objects.

Called by ``__main__`` instead of the Cloud Run services; the registry, images, network, broker,
identities and secrets are the same resources on both platforms.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp
import runtime_contract
from platform_target import DeployedTarget, PlatformInputs
from settings import Settings
from settings.workers import WorkerGroupSettings

from schedules.cloud_scheduler import gke_api_audience, scheduler_account_id

from kubernetes.cluster import Cluster, ClusterArgs
from kubernetes.cron_jobs import SCHEDULER_KSA, cron_job
from kubernetes.keda import KEDA_NAMESPACE, KEDA_OPERATOR_KSA
from kubernetes.manifests import Workload
from kubernetes.workloads import KubernetesStack, KubernetesStackArgs, secret_keys, workload_identity_member
from task_contract import deployment as contract


def deploy_to_gke(inputs: PlatformInputs) -> DeployedTarget:
    settings, gke = inputs.settings, inputs.settings.gke
    assert gke is not None
    depends_on: list[pulumi.Resource] = [*inputs.secrets.access, *inputs.apis.needed_by("container")]
    prefix, project = settings.name_prefix, settings.project
    cluster = Cluster(
        "gke",
        ClusterArgs(
            project=project,
            region=settings.region,
            cluster_name=f"{prefix}-gke",
            settings=gke,
            network_id=inputs.network.vpc.id,
            subnetwork_id=inputs.network.subnet.id,
            deletion_protection=settings.deletion_protection,
            depends_on=depends_on,
        ),
    )
    location = gke.existing.location if gke.existing is not None else settings.region
    accounts = {"api": inputs.identities.api, **{f"worker-{g}": a for g, a in inputs.identities.workers.items()}}
    bindings: list[pulumi.Resource] = [
        gcp.serviceaccount.IAMMember(
            f"wi-{name}",
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            member=workload_identity_member(project, gke.namespace, name),
            opts=pulumi.ResourceOptions(parent=cluster),
        )
        for name, account in accounts.items()
    ]
    keda_account = gcp.serviceaccount.Account(
        "keda", project=project, account_id=f"{prefix}-keda", display_name="cloudrun-celery KEDA operator (GKE)"
    )
    bindings.append(
        gcp.serviceaccount.IAMMember(
            "wi-keda",
            service_account_id=keda_account.name,
            role="roles/iam.workloadIdentityUser",
            member=workload_identity_member(project, KEDA_NAMESPACE, KEDA_OPERATOR_KSA),
            opts=pulumi.ResourceOptions(parent=cluster),
        )
    )
    ca = inputs.secrets.secrets.get("redis-ca")
    # KEDA reads AUTH and the CA only when it scales a group (the spec is not empty).
    keda_reads = (
        {"redis-auth": inputs.secrets.secrets["redis-auth"], **({"redis-ca": ca} if ca is not None else {})}
        if inputs.scaling
        else {}
    )
    for key, secret in keda_reads.items():
        bindings.append(
            gcp.secretmanager.SecretIamMember(
                f"keda-reads-{key}",
                project=project,
                secret_id=secret.secret_id,
                role="roles/secretmanager.secretAccessor",
                member=keda_account.email.apply(lambda e: f"serviceAccount:{e}"),
                opts=pulumi.ResourceOptions(parent=keda_account),
            )
        )
    # A private API is out of Cloud Scheduler's reach: its schedules are CronJobs in the cluster,
    # calling as the stack's scheduler account (the one the API's SCHEDULER_CALLERS names).
    private_schedules = () if settings.api.public else settings.scheduler.schedules
    scheduler_account = None
    if private_schedules:
        scheduler_account = gcp.serviceaccount.Account(
            "scheduler",
            project=project,
            account_id=scheduler_account_id(prefix),
            display_name="cloudrun-celery schedule CronJobs (GKE; OIDC caller of the API)",
        )
        bindings.append(
            gcp.serviceaccount.IAMMember(
                "wi-scheduler",
                service_account_id=scheduler_account.name,
                role="roles/iam.workloadIdentityUser",
                member=workload_identity_member(project, gke.namespace, SCHEDULER_KSA),
                opts=pulumi.ResourceOptions(parent=cluster),
            )
        )
    in_cluster_api = gke_api_audience(gke.namespace)
    cron_jobs = [
        cron_job(
            schedule,
            namespace=gke.namespace,
            image=inputs.images.api,
            api_url=in_cluster_api,
            audience=inputs.api_audience,
            scheduler_job=f"{prefix}-{schedule.name}",
            retry=settings.scheduler.retry,
        )
        for schedule in private_schedules
    ]
    workloads = [_workload(None, inputs.images.api, accounts["api"], inputs.api_env, settings)]
    workloads += [
        _workload(g, inputs.images.worker, accounts[f"worker-{g.name}"], inputs.worker_envs[g.name], settings)
        for g in settings.workers
    ]
    stack = KubernetesStack(
        "k8s",
        KubernetesStackArgs(
            project=project,
            location=location,
            cluster_name=cluster.name,
            provider=cluster.provider,
            settings=gke,
            workloads=workloads,
            api_public=settings.api.public,
            api_max_replicas=settings.api.max_instances,
            scaling=inputs.scaling,
            redis_host=inputs.broker.host,
            redis_port=inputs.broker.instance.port,
            redis_tls=ca is not None,
            redis_password_secret=inputs.secrets.secrets["redis-auth"].secret_id if inputs.scaling else None,
            redis_ca_secret=ca.secret_id if ca is not None else None,
            keda_account=keda_account.email,
            cron_jobs=cron_jobs,
            scheduler_account=scheduler_account.email if scheduler_account is not None else None,
            depends_on=[*bindings, *depends_on],
        ),
    )
    return DeployedTarget(
        api=stack,
        # Cloud Scheduler reaches a public API at its load balancer; a private one gets CronJobs.
        scheduler_url=stack.api_url if settings.api.public else None,
        private_api_service=None,
        exports={
            "cluster_name": cluster.name,
            "namespace": gke.namespace,
            "api_service": stack.api_service.metadata.apply(lambda m: m.name),
            "api_url": stack.api_url,
            "worker_deployments": sorted(w for w in stack.deployments if w != "api"),
        },
    )


def _workload(group: WorkerGroupSettings | None, image: Any, account: Any, env: runtime_contract.ContainerEnvironment,
              settings: Settings) -> tuple[Workload, runtime_contract.ContainerEnvironment]:
    """The API's workload when ``group`` is None, else that worker group's."""
    gke = settings.gke
    assert gke is not None
    secret_env, files, _ = secret_keys(env)
    is_api = group is None
    name = "api" if group is None else f"worker-{group.name}"
    size = settings.api.size if group is None else group.size
    workload = Workload(
        name=name,
        role=contract.API_ROLE if is_api else contract.WORKER_ROLE,
        image=image,
        service_account=name,
        google_account=account.email,
        replicas=max(1, settings.api.min_instances if group is None else group.min_instances),
        cpu=size.cpu,
        memory=size.memory,
        env=dict(env.plain),
        secret_env=secret_env,
        secret_files=files,
        liveness_path=runtime_contract.API_LIVENESS_PATH if is_api else runtime_contract.WORKER_HEALTH_PATH,
        readiness_path=runtime_contract.API_STARTUP_PATH if is_api else runtime_contract.WORKER_HEALTH_PATH,
        # The API drains requests within Cloud Run's 10 s; a worker's is validated (settings.platform).
        grace_period_seconds=10 if is_api else gke.worker_grace_period_seconds,
        spot=group is not None and group.name in gke.spot_groups,
    )
    return workload, env
