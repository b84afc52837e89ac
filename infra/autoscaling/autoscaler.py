"""Autoscaler: CREMA as a Cloud Run service that sets the worker pools' instance counts from their ledgers.

Deployed as CREMA's README deploys it (one instance, CPU always allocated: it polls on its own
timer), with its own service account allowed exactly this: update these worker pools, act as
their service accounts (a pool update runs the pool as its account), read the broker's AUTH and
CA secrets, and view its own config parameter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from autoscaling.crema_config import BrokerAccess, crema_config, render
from autoscaling.spec import GroupScalingSpec

POOL_UPDATER_ROLE = "roles/run.developer"
ACT_AS_ROLE = "roles/iam.serviceAccountUser"
SECRET_READER_ROLE = "roles/secretmanager.secretAccessor"
PARAMETER_VIEWER_ROLE = "roles/parametermanager.parameterViewer"
# CREMA's image is built FROM scratch on Cloud Run's Java 25 runtime (its README, "Deploy").
CREMA_BASE_IMAGE = "us-central1-docker.pkg.dev/serverless-runtimes/google-24/runtimes/java25"


def parameter_condition(parameter_id: str) -> str:
    """IAM condition: this parameter and its versions, whether named by project id or number."""
    return (
        f'resource.name.endsWith("/locations/global/parameters/{parameter_id}") || '
        f'resource.name.extract("/locations/global/parameters/{{name}}/versions/") == "{parameter_id}"'
    )


@dataclass(frozen=True)
class AutoscalerArgs:
    project: str
    region: str
    name_prefix: str
    image: str
    specs: Sequence[GroupScalingSpec]
    pools: Mapping[str, gcp.cloudrunv2.WorkerPool]
    pool_accounts: Mapping[str, gcp.serviceaccount.Account]
    broker_address: pulumi.Input[str]
    password_secret: gcp.secretmanager.Secret
    ca_secret: gcp.secretmanager.Secret | None
    vpc_access: gcp.cloudrunv2.ServiceTemplateVpcAccessArgsDict
    deletion_protection: bool
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Autoscaler(pulumi.ComponentResource):
    account: gcp.serviceaccount.Account
    service: gcp.cloudrunv2.Service
    config: pulumi.Output[str]
    """The rendered CremaConfig (JSON, which is YAML), as stored in Parameter Manager."""

    def __init__(
        self, name: str, args: AutoscalerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudrun-celery:infra:Autoscaler", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        prefix = args.name_prefix
        self.account = gcp.serviceaccount.Account(
            "autoscaler",
            project=args.project,
            account_id=f"{prefix}-autoscaler",
            display_name="cloudrun-celery autoscaler (CREMA on Cloud Run)",
            opts=child,
        )
        member = self.account.email.apply(lambda email: f"serviceAccount:{email}")
        grants: list[pulumi.Resource] = []
        for spec in args.specs:
            pool = args.pools[spec.group]
            grants.append(
                gcp.cloudrunv2.WorkerPoolIamMember(
                    f"update-{spec.group}",
                    project=args.project,
                    location=args.region,
                    name=pool.name,
                    role=POOL_UPDATER_ROLE,
                    member=member,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
            grants.append(
                gcp.serviceaccount.IAMMember(
                    f"act-as-{spec.group}",
                    service_account_id=pulumi.Output.concat(
                        "projects/", args.project, "/serviceAccounts/", args.pool_accounts[spec.group].email
                    ),
                    role=ACT_AS_ROLE,
                    member=member,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        secrets = {"redis-auth": args.password_secret}
        if args.ca_secret is not None:
            secrets["redis-ca"] = args.ca_secret
        for key, secret in secrets.items():
            grants.append(
                gcp.secretmanager.SecretIamMember(
                    f"read-{key}",
                    project=args.project,
                    secret_id=secret.secret_id,
                    role=SECRET_READER_ROLE,
                    member=member,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )

        parameter_id = f"{prefix}-autoscaler"
        parameter = gcp.parametermanager.Parameter(
            "config",
            project=args.project,
            parameter_id=parameter_id,
            format="YAML",
            opts=child,
        )
        self.config = pulumi.Output.all(
            args.broker_address,
            args.password_secret.secret_id,
            args.ca_secret.secret_id if args.ca_secret is not None else None,
            {spec.group: args.pools[spec.group].name for spec in args.specs},
        ).apply(
            lambda parts: render(
                crema_config(
                    args.specs,
                    {
                        group: f"projects/{args.project}/locations/{args.region}/workerpools/{pool}"
                        for group, pool in parts[3].items()
                    },
                    BrokerAccess(address=parts[0], password_secret_id=parts[1], ca_secret_id=parts[2]),
                )
            )
        )
        # A new version per config: CREMA reads the version named in CREMA_CONFIG at start, so a
        # changed config rolls out as a new revision.
        version_id = self.config.apply(lambda text: "v-" + hashlib.sha256(text.encode()).hexdigest()[:16])
        version = gcp.parametermanager.ParameterVersion(
            "config",
            parameter=parameter.id,
            parameter_version_id=version_id,
            parameter_data=self.config,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Parameter Manager has no per-parameter IAM in the provider: a project-level grant,
        # conditioned on this parameter only (the policy pack allows exactly this shape).
        grants.append(
            gcp.projects.IAMMember(
                "parameter-viewer",
                project=args.project,
                role=PARAMETER_VIEWER_ROLE,
                member=member,
                condition={
                    "title": f"only {parameter_id}",
                    "description": "The autoscaler reads its own config parameter and nothing else.",
                    "expression": parameter_condition(parameter_id),
                },
                opts=pulumi.ResourceOptions(parent=self),
            )
        )
        config_name = pulumi.Output.concat(
            "projects/", args.project, "/locations/global/parameters/", parameter_id, "/versions/", version_id
        )
        self.service = gcp.cloudrunv2.Service(
            "autoscaler",
            project=args.project,
            location=args.region,
            name=f"{prefix}-autoscaler",
            # Nothing calls it: it polls on its own timer (pollingInterval). No invoker bindings.
            ingress="INGRESS_TRAFFIC_INTERNAL_ONLY",
            labels={"app": "cloudrun-celery", "role": "autoscaler"},
            deletion_protection=args.deletion_protection,
            # Exactly one instance: two would race on the pools' instance counts.
            scaling={"scaling_mode": "MANUAL", "manual_instance_count": 1},
            template={
                "service_account": self.account.email,
                "vpc_access": args.vpc_access,
                "containers": [
                    {
                        "name": "crema",
                        "image": args.image,
                        "base_image_uri": CREMA_BASE_IMAGE,
                        "resources": {
                            "limits": {"cpu": "1", "memory": "512Mi"},
                            # Its polling loop runs outside requests.
                            "cpu_idle": False,
                        },
                        "envs": [
                            {"name": "CREMA_CONFIG", "value": config_name},
                            {"name": "OUTPUT_SCALER_METRICS", "value": "False"},
                            {"name": "ENABLE_CLOUD_LOGGING", "value": "False"},
                        ],
                    }
                ],
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*args.depends_on, *grants, version],
                protect=args.deletion_protection,
            ),
        )
        self.register_outputs({"service": self.service.name, "config": self.config})
