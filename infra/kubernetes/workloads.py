"""The Kubernetes side of ``platform: gke``: namespace, identities, workloads, policies, KEDA, secret sync.

Every object is a manifest from ``manifests``, ``network_policies``, ``keda`` or ``secret_sync``,
declared here with pulumi-kubernetes on the cluster's own provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import runtime_contract
from autoscaling.spec import GroupScalingSpec
from settings.platform import GkeSettings

from kubernetes import cron_jobs, keda, network_policies, pod_monitoring, secret_sync
from kubernetes.manifests import Manifest, Workload, api_service, cpu_autoscaler, deployment
from kubernetes.manifests import disruption_budget, service_account

SecretKeys = dict[str, tuple[pulumi.Input[str], pulumi.Input[str]]]

BUILT_IN = {
    "Namespace": k8s.core.v1.Namespace,
    "ServiceAccount": k8s.core.v1.ServiceAccount,
    "Service": k8s.core.v1.Service,
    "Deployment": k8s.apps.v1.Deployment,
    "HorizontalPodAutoscaler": k8s.autoscaling.v2.HorizontalPodAutoscaler,
    "PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget,
    "NetworkPolicy": k8s.networking.v1.NetworkPolicy,
    "CronJob": k8s.batch.v1.CronJob,
}


@dataclass(frozen=True)
class KubernetesStackArgs:
    project: str
    location: str
    cluster_name: pulumi.Input[str]
    provider: k8s.Provider
    settings: GkeSettings
    workloads: Sequence[tuple[Workload, runtime_contract.ContainerEnvironment]]
    api_public: bool
    api_max_replicas: int
    scaling: Sequence[GroupScalingSpec]
    redis_host: pulumi.Input[str]
    redis_port: pulumi.Input[int]
    redis_tls: bool
    # Secret Manager id of AUTH for KEDA's trigger; None when no group is scaled on queue depth.
    redis_password_secret: pulumi.Input[str] | None
    redis_ca_secret: pulumi.Input[str] | None
    keda_account: pulumi.Input[str]
    # A private API's schedules (cron_jobs.py) and the Google account their pods call as.
    cron_jobs: Sequence[Manifest] = ()
    scheduler_account: pulumi.Input[str] | None = None
    depends_on: list[pulumi.Resource] = field(default_factory=list)


def secret_keys(env: runtime_contract.ContainerEnvironment) -> tuple[dict[str, str], dict[str, tuple[str, str]], SecretKeys]:
    """A Cloud Run environment's secret refs as keys of the workload's synced Secret."""
    secret_env = {name: name.lower().replace("_", "-") for name in env.secret}
    files = {f.directory: (f.file_name, f.volume) for f in env.files}
    keys: SecretKeys = {
        **{secret_env[n]: (r.secret_id, r.version) for n, r in env.secret.items()},
        **{f.volume: (f.ref.secret_id, f.ref.version) for f in env.files},
    }
    return secret_env, files, keys


class KubernetesStack(pulumi.ComponentResource):
    deployments: dict[str, k8s.apps.v1.Deployment]
    api_service: k8s.core.v1.Service
    api_url: pulumi.Output[str]

    def __init__(self, name: str, args: KubernetesStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cloudrun-celery:infra:KubernetesStack", name, None, opts)
        ns = args.settings.namespace
        base = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=args.depends_on)
        namespace = self._declare({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, base)
        in_ns = pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=[namespace]))

        eso = k8s.helm.v3.Release(
            "external-secrets",
            chart=secret_sync.ESO_CHART,
            version=secret_sync.ESO_CHART_VERSION,
            repository_opts={"repo": secret_sync.ESO_CHART_REPO},
            namespace=secret_sync.ESO_NAMESPACE,
            create_namespace=True,
            values={"installCRDs": True},
            opts=base,
        )
        keda_release = k8s.helm.v3.Release(
            "keda",
            chart=keda.KEDA_CHART,
            version=keda.KEDA_CHART_VERSION,
            repository_opts={"repo": keda.KEDA_CHART_REPO},
            namespace=keda.KEDA_NAMESPACE,
            create_namespace=True,
            values=keda.keda_values(args.keda_account),
            opts=base,
        )
        after_eso = pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[eso]))
        scaled = keda.scaled_groups(args.scaling)
        self.deployments = {}
        for workload, env in args.workloads:
            ksa = self._declare(service_account(workload.service_account, ns, workload.google_account), in_ns)
            _, _, keys = secret_keys(env)
            self._declare(
                secret_sync.secret_store(workload.name, ns, args.project, args.cluster_name, args.location),
                after_eso,
            )
            synced = self._declare(secret_sync.external_secret(workload.name, ns, keys), after_eso)
            manifest = deployment(workload, ns)
            if workload.name.removeprefix("worker-") in scaled:
                # KEDA owns the replica count (its HPA); a fixed count would fight it.
                del manifest["spec"]["replicas"]
            self.deployments[workload.name] = k8s.apps.v1.Deployment(
                f"deployment-{workload.name}",
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[ksa, synced])),
            )
            self._declare(disruption_budget(workload, ns), in_ns)
        api = next(w for w, _ in args.workloads if w.name == "api")
        service = api_service(api, ns, args.api_public)
        self.api_service = k8s.core.v1.Service(
            f"service-{api.name}", metadata=service["metadata"], spec=service["spec"], opts=in_ns
        )
        self.api_url = self.api_service.status.apply(_load_balancer_url)
        self._declare(cpu_autoscaler(api, ns, args.api_max_replicas), in_ns)
        redis_cidr = pulumi.Output.from_input(args.redis_host).apply(lambda h: f"{h}/32")
        for policy in network_policies.network_policies(ns, redis_cidr, 6378 if args.redis_tls else 6379):
            self._declare(policy, in_ns)
        # Managed Prometheus scrapes the API and workers, so the alerts work as on Cloud Run.
        self._declare(pod_monitoring.pod_monitoring(ns), in_ns)
        if args.cron_jobs:
            assert args.scheduler_account is not None, "CronJobs call as the scheduler's Google account"
            ksa = self._declare(service_account(cron_jobs.SCHEDULER_KSA, ns, args.scheduler_account), in_ns)
            self._declare(network_policies.scheduler_policy(ns), in_ns)
            after_api = pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[ksa, self.api_service]))
            for manifest in args.cron_jobs:
                self._declare(manifest, after_api)

        after_keda = pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[keda_release]))
        if args.redis_password_secret is not None:
            self._declare(
                keda.trigger_authentication(ns, args.redis_password_secret, args.redis_ca_secret),
                after_keda,
            )
        address = pulumi.Output.concat(args.redis_host, ":", pulumi.Output.from_input(args.redis_port).apply(str))
        for spec in args.scaling:
            target = f"worker-{spec.group}"
            self._declare(
                keda.scaled_object(spec, target, ns, address, args.redis_tls),
                pulumi.ResourceOptions.merge(after_keda, pulumi.ResourceOptions(depends_on=[self.deployments[target]])),
            )
        self.register_outputs({"namespace": ns})

    def _declare(self, manifest: Manifest, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
        kind, meta = manifest["kind"], manifest["metadata"]
        name = f"{kind.lower()}-{meta['name']}"
        body = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
        if kind in BUILT_IN:
            return BUILT_IN[kind](name, **body, opts=opts)  # type: ignore[no-any-return]
        return k8s.apiextensions.CustomResource(
            name, api_version=manifest["apiVersion"], kind=kind, **body, opts=opts
        )


def _load_balancer_url(status: k8s.core.v1.outputs.ServiceStatus | None) -> str:
    """The API's address once GKE has given the LoadBalancer Service one (empty before)."""
    ingress = status.load_balancer.ingress if status is not None and status.load_balancer is not None else None
    return f"http://{ingress[0].ip}" if ingress else ""


def workload_identity_member(project: str, namespace: str, ksa: str) -> str:
    return f"serviceAccount:{project}.svc.id.goog[{namespace}/{ksa}]"
