"""cloudrun-celery: a FastAPI API and Celery workers on Cloud Run, Memorystore as the broker.

Reads the settings, wires one component per concern, and exports. Nothing else.
"""

from pathlib import Path

import pulumi
import runtime_contract
from api_service import ApiService, ApiServiceArgs
from broker import Broker, BrokerArgs
from identities import Identities, IdentitiesArgs
from images import Images, ImagesArgs
from network import Network, NetworkArgs
from project_apis import REQUIRED_APIS, ProjectApis, ProjectApisArgs
from registry import Registry, RegistryArgs
from secret_store import SecretSpec, SecretStore, SecretStoreArgs
from settings import load_settings
from task_contract import deployment as contract
from worker_service import WorkerService, WorkerServiceArgs

settings = load_settings()  # raises InvalidConfig before any resource is declared
prefix = settings.name_prefix
project, region = settings.project, settings.region
# The language host runs this file with cwd = infra/; the project root is its parent.
project_root = Path(__file__).resolve().parent.parent

gke_apis = ("container.googleapis.com",) if settings.platform == "gke" else ()
apis = ProjectApis("apis", ProjectApisArgs(project=project, apis=(*REQUIRED_APIS, *gke_apis)))

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
        depends_on=apis.needed_by("iam"),
    ),
)
# Secret readers by workload ("api" or a worker group), keyed as the IAM grants are named.
readers = identities.readers()
everyone = dict(readers.values())

secret_specs = [
    SecretSpec("redis-url", f"{prefix}-redis-url", broker.url, everyone),
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
if settings.platform == "gke":
    # KEDA's Redis scaler takes AUTH alone, not the URL; only KEDA's identity reads it.
    secret_specs.append(
        SecretSpec(
            "redis-auth", f"{prefix}-redis-auth", pulumi.Output.secret(broker.instance.auth_string), {}
        )
    )
if broker.ca_certificate is not None:
    secret_specs.append(
        SecretSpec("redis-ca", f"{prefix}-redis-ca", broker.ca_certificate, everyone)
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
if settings.api_keys is None:
    pulumi.log.warn(
        f"No API keys in config: add a version to secret {prefix}-api-keys before the API can start "
        "(pulumi config set --secret cloudrun-celery:apiKeys 'key1,key2', or gcloud secrets versions add)."
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
        contract.LOG_LEVEL_ENV: settings.log_level,
        contract.TASK_TIME_LIMIT_ENV: str(settings.tasks.time_limit_seconds),
        contract.RESULT_TTL_ENV: str(settings.tasks.result_ttl_seconds),
    },
)
service_deps = [*secrets.access, *apis.needed_by("run")]
api_env = runtime_contract.api_environment(
    shared_env,
    api_keys=secrets.refs["api-keys"],
    request_concurrency=settings.api.concurrency,
    app_secrets=app_secrets_of("api"),
    verify_key=secrets.refs.get("verify-key"),
)
worker_envs = {
    g.name: runtime_contract.worker_environment(shared_env, group=g, app_secrets=app_secrets_of(g.name))
    for g in settings.workers
}

if settings.platform == "gke":
    from kubernetes.target import GkeInputs, deploy_to_gke

    for key, value in deploy_to_gke(
        GkeInputs(
            settings=settings,
            network=network,
            broker=broker,
            identities=identities,
            secrets=secrets,
            images=images,
            api_env=api_env,
            worker_envs=worker_envs,
            depends_on=[*secrets.access, *apis.needed_by("container")],
        )
    ).items():
        pulumi.export(key, value)
else:
    api = ApiService(
        "api",
        ApiServiceArgs(
            project=project,
            region=region,
            service_name=f"{prefix}-api",
            settings=settings.api,
            image=images.api,
            service_account_email=identities.api.email,
            environment=api_env,
            vpc_access=network.vpc_access(),
            deletion_protection=settings.deletion_protection,
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
                image=images.worker,
                service_account_email=identities.workers[group.name].email,
                environment=worker_envs[group.name],
                vpc_access=network.vpc_access(),
                deletion_protection=settings.deletion_protection,
                depends_on=service_deps,
            ),
        )
        for group in settings.workers
    }

    pulumi.export("api_url", api.url)
    # The API rollout (docs/delivery.md): deploy.yml verifies the candidate URL, then promotes it.
    pulumi.export("api_candidate_url", api.candidate_url)
    pulumi.export("api_latest_revision", api.latest_revision)
    pulumi.export("api_serving_revision", api.serving_revision)
    pulumi.export(
        "worker_services", {name: worker.name for name, worker in workers.items()}
    )
pulumi.export("registry_url", registry.url)
pulumi.export("redis_host", broker.host)
pulumi.export("secret_names", {key: s.secret_id for key, s in secrets.secrets.items()})
