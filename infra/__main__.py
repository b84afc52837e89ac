"""cloudrun-celery: a FastAPI API and Celery workers on Cloud Run, Memorystore as the broker.

Reads the settings, wires one component per concern, and exports. Nothing else.
"""

from pathlib import Path

# First, before any provider import: what the process needs set up (program_start.py).
import program_start  # noqa: F401
import pulumi
import pulumi_gcp as gcp
import runtime_contract
from autoscaling.spec import scaling_specs
from foundation.broker import Broker, BrokerArgs
from cloudrun.target import deploy_to_cloudrun
from foundation.identities import Identities, IdentitiesArgs
from foundation.images import Images, ImagesArgs
from monitoring import Monitoring, MonitoringArgs
from monitoring.alerts import AlertTargets
from foundation.network import Network, NetworkArgs
from platform_target import DeployedTarget, PlatformInputs
from foundation.project_apis import BUDGET_API, REQUIRED_APIS, ProjectApis, ProjectApisArgs
from foundation.registry import Registry, RegistryArgs
from schedules.cloud_scheduler import (
    ScheduledTasks,
    ScheduledTasksArgs,
    cloudrun_api_audience,
    gke_api_audience,
    scheduler_account_email,
)
from foundation.secret_store import SecretSpec, SecretStore, SecretStoreArgs
from settings import load_settings
from task_contract import deployment as contract

settings = load_settings()  # raises InvalidConfig before any resource is declared
prefix = settings.name_prefix
project, region = settings.project, settings.region
# Worker groups the autoscaler scales on their queue's work ledger (docs/scaling.md).
scaling = scaling_specs(settings.workers, settings.autoscaler)
# The language host runs this file with cwd = infra/; the project root is its parent.
project_root = Path(__file__).resolve().parent.parent

schedules = settings.scheduler.schedules
apis = ProjectApis(
    "apis",
    ProjectApisArgs(
        project=project,
        apis=(
            *REQUIRED_APIS,
            *(("parametermanager.googleapis.com",) if scaling else ()),
            *((BUDGET_API,) if settings.monitoring.budget else ()),
            *(("cloudscheduler.googleapis.com",) if schedules else ()),
            *(("container.googleapis.com",) if settings.platform == "gke" else ()),
        ),
    ),
)

registry = Registry(
    "registry",
    RegistryArgs(
        project=project,
        region=region,
        repository_id=f"{prefix}-images",
        cleanup=settings.registry,
        depends_on=apis.needed_by("artifactregistry"),
    ),
)

network = Network(
    "network",
    NetworkArgs(
        project=project,
        region=region,
        name_prefix=prefix,
        settings=settings.network,
        depends_on=apis.needed_by("compute", "vpcaccess"),
    ),
)

broker = Broker(
    "broker",
    BrokerArgs(
        project=project,
        region=region,
        instance_name=f"{prefix}-broker",
        settings=settings.redis,
        network_id=network.vpc.id,
        deletion_protection=settings.deletion_protection,
        depends_on=apis.needed_by("redis"),
    ),
)

identities = Identities(
    "identities",
    IdentitiesArgs(
        project=project,
        name_prefix=prefix,
        worker_groups=tuple(w.name for w in settings.workers),
        flower=settings.flower.enabled,
        beat=settings.beat.enabled,
        depends_on=apis.needed_by("iam"),
    ),
)
# Secret readers by workload ("api" or a worker group), keyed as the IAM grants are named.
readers = identities.readers()
everyone = dict(readers.values())
# Flower and beat read the broker's secrets (URL and CA) and nothing else.
broker_readers = dict(everyone)
for grant, account in (("flower", identities.flower), ("beat", identities.beat)):
    if account is not None:
        broker_readers[grant] = account.email.apply(lambda email: f"serviceAccount:{email}")

secret_specs = [
    SecretSpec("redis-url", f"{prefix}-redis-url", broker.url, broker_readers),
    SecretSpec(
        "api-keys", f"{prefix}-api-keys", settings.api_keys, dict([readers["api"]])
    ),
    *(
        SecretSpec(
            f"app-{s.name}",
            f"{prefix}-{s.name}",
            s.value,
            dict(readers[workload] for workload in s.consumers),
        )
        for s in settings.app_secrets
    ),
]
if settings.verify_key is not None:
    # The deploy check's own key: only the API reads it (and the deployer, which manages secrets).
    secret_specs.append(
        SecretSpec(
            "verify-key", f"{prefix}-verify-key", settings.verify_key, dict([readers["api"]])
        )
    )
if broker.ca_certificate is not None:
    secret_specs.append(
        SecretSpec(
            "redis-ca", f"{prefix}-redis-ca", broker.ca_certificate, broker_readers
        )
    )
if scaling:
    # KEDA's Redis scaler takes AUTH alone, not the URL; only the autoscaler (CREMA or KEDA) reads it.
    secret_specs.append(
        SecretSpec(
            "redis-auth",
            f"{prefix}-redis-auth",
            pulumi.Output.secret(broker.instance.auth_string),
            {},
        )
    )
secrets = SecretStore(
    "secrets",
    SecretStoreArgs(
        project=project,
        secrets=secret_specs,
        deletion_protection=settings.deletion_protection,
        depends_on=apis.needed_by("secretmanager"),
    ),
)

images = Images(
    "images",
    ImagesArgs(
        registry_url=registry.url, project_root=project_root, depends_on=[registry]
    ),
)



def app_secrets_of(workload: str) -> dict[str, runtime_contract.SecretRef]:
    """The app secrets ``workload`` consumes, as env var -> reference."""
    return {
        s.env_var: secrets.refs[f"app-{s.name}"]
        for s in settings.app_secrets
        if s.read_by(workload)
    }


shared_env = runtime_contract.shared_environment(
    redis_url=secrets.refs["redis-url"],
    redis_ca=secrets.refs.get("redis-ca"),
    plain={
        # Log lines name their Cloud Trace as projects/<project>/traces/<id> (cloud_logging).
        contract.PROJECT_ENV: project,
        contract.LOG_LEVEL_ENV: settings.log_level,
        contract.TASK_TIME_LIMIT_ENV: str(settings.tasks.time_limit_seconds),
        contract.RESULT_TTL_ENV: str(settings.tasks.result_ttl_seconds),
    },
)
gke = settings.gke
if gke is not None:
    # Inside the cluster the API's Service name is its address; the tokens name it (docs/kubernetes.md).
    api_audience: pulumi.Input[str] = gke_api_audience(gke.namespace)
else:
    # The audience Google ID tokens must carry: the API's own URL (docs/schedules.md).
    api_audience = cloudrun_api_audience(
        f"{prefix}-api",
        gcp.organizations.get_project_output(project_id=project).number,
        region,
    )
id_token_emails = [
    *([scheduler_account_email(prefix, project)] if schedules else []),
    *settings.scheduler.extra_callers,
]
inputs = PlatformInputs(
    settings=settings,
    apis=apis,
    network=network,
    broker=broker,
    identities=identities,
    secrets=secrets,
    images=images,
    shared_env=shared_env,
    api_env=runtime_contract.api_environment(
        shared_env,
        api_keys=secrets.refs["api-keys"],
        api=settings.api,
        app_secrets=app_secrets_of("api"),
        verify_key=secrets.refs.get("verify-key"),
        id_token_callers=runtime_contract.IdTokenCallers(api_audience, id_token_emails)
        if id_token_emails
        else None,
    ),
    worker_envs={
        group.name: runtime_contract.worker_environment(
            shared_env,
            group=group,
            app_secrets=app_secrets_of(group.name),
            # Task events and heartbeats, only for the groups Flower watches.
            send_events=group.name in settings.flower.watch_groups,
        )
        for group in settings.workers
    },
    scaling=scaling,
    api_audience=api_audience,
)
if gke is not None:
    from kubernetes.target import deploy_to_gke

    target: DeployedTarget = deploy_to_gke(inputs)
else:
    target = deploy_to_cloudrun(inputs)

monitoring = Monitoring(
    "monitoring",
    MonitoringArgs(
        project=project,
        stack=settings.stack,
        settings=settings.monitoring,
        targets=AlertTargets(
            name_prefix=prefix,
            api_service=f"{prefix}-api",
            redis_instance=f"{prefix}-broker",
            gke_namespace=gke.namespace if gke is not None else None,
        ),
        # On Cloud Run each workload's collector sidecar writes as the workload; on GKE, Managed
        # Prometheus's own collectors do (kubernetes/monitoring.py), so no workload needs the role.
        metric_writers={}
        if gke is not None
        else {
            "api": identities.api.email,
            **{f"worker-{g}": a.email for g, a in identities.workers.items()},
            **({"flower": identities.flower.email} if identities.flower is not None else {}),
        },
        project_number=gcp.organizations.get_project_output(project_id=project).number
        if settings.monitoring.budget
        else None,
        depends_on=apis.needed_by("monitoring"),
    ),
)
scheduler_jobs: dict[str, pulumi.Output[str]] = {}
if schedules and target.scheduler_url is not None:
    scheduled = ScheduledTasks(
        "schedules",
        ScheduledTasksArgs(
            project=project,
            region=region,
            name_prefix=prefix,
            schedules=schedules,
            retry=settings.scheduler.retry,
            api_url=target.scheduler_url,
            audience=api_audience,
            private_api_service=target.private_api_service,
            depends_on=[*apis.needed_by("cloudscheduler", "iam"), target.api],
        ),
    )
    scheduler_jobs = {n: job.name for n, job in scheduled.jobs.items()}

for key, value in target.exports.items():
    pulumi.export(key, value)
pulumi.export("registry_url", registry.url)
pulumi.export("redis_host", broker.host)
pulumi.export("dashboard", monitoring.dashboard.id)
pulumi.export("secret_names", {key: s.secret_id for key, s in secrets.secrets.items()})
pulumi.export("scheduler_jobs", scheduler_jobs)
