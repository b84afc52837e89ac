"""GitHub OIDC -> Google Cloud: the Workload Identity pool, the provider and who may use it.

The provider's ``attribute_condition`` admits tokens of one repository only, and of those only
the subjects this project allows: pull requests (previewer) and each deploy environment from its
allowed refs (deployer). The service-account bindings then name the exact subject, so a token
that passes the condition still impersonates only the account meant for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
from delivery_settings import BootstrapSettings

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
# What the condition and the bindings read from GitHub's token. `sub` is
# `repo:<owner>/<name>:pull_request` for PR runs and `repo:<owner>/<name>:environment:<env>` for
# jobs that name an environment (GitHub's default subject template).
ATTRIBUTE_MAPPING = {
    "google.subject": "assertion.sub",
    "attribute.repository": "assertion.repository",
    "attribute.ref": "assertion.ref",
    "attribute.event_name": "assertion.event_name",
}


def pull_request_subject(repository: str) -> str:
    return f"repo:{repository}:pull_request"


def environment_subject(repository: str, environment: str) -> str:
    return f"repo:{repository}:environment:{environment}"


def _ref_clause(ref: str) -> str:
    if ref.endswith("*"):
        return f"assertion.ref.startsWith('{ref[:-1]}')"
    return f"assertion.ref == '{ref}'"


def attribute_condition(settings: BootstrapSettings) -> str:
    """The CEL condition every token must pass: this repository, and an allowed subject and ref."""
    repo = settings.repository
    allowed = []
    if settings.preview_from_pull_requests:
        allowed.append(f"assertion.sub == '{pull_request_subject(repo)}'")
    for target in settings.deploy:
        refs = " || ".join(_ref_clause(ref) for ref in target.refs)
        allowed.append(f"(assertion.sub == '{environment_subject(repo, target.environment)}' && ({refs}))")
    return f"assertion.repository == '{repo}' && ({' || '.join(allowed)})"


def principal(pool_name: pulumi.Input[str], subject: str) -> pulumi.Output[str]:
    """The IAM member for one token subject in the pool (``pool_name``: projects/N/locations/global/...)."""
    return pulumi.Output.concat("principal://iam.googleapis.com/", pool_name, "/subject/", subject)


@dataclass(frozen=True)
class GithubOidcArgs:
    settings: BootstrapSettings
    depends_on: list[pulumi.Resource]


class GithubOidc(pulumi.ComponentResource):
    pool: gcp.iam.WorkloadIdentityPool
    provider: gcp.iam.WorkloadIdentityPoolProvider

    def __init__(self, name: str, args: GithubOidcArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cloudrun-celery-bootstrap:delivery:GithubOidc", name, None, opts)
        settings = args.settings
        self.pool = gcp.iam.WorkloadIdentityPool(
            "pool",
            project=settings.project,
            workload_identity_pool_id=settings.pool_id,
            display_name="GitHub Actions",
            description=f"GitHub Actions of {settings.repository}",
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )
        self.provider = gcp.iam.WorkloadIdentityPoolProvider(
            "provider",
            project=settings.project,
            workload_identity_pool_id=self.pool.workload_identity_pool_id,
            workload_identity_pool_provider_id=settings.provider_id,
            display_name="GitHub OIDC",
            attribute_mapping=ATTRIBUTE_MAPPING,
            attribute_condition=attribute_condition(settings),
            oidc={"issuer_uri": GITHUB_ISSUER},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"provider": self.provider.name})
