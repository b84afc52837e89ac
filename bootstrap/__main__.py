"""cloudrun-celery-bootstrap: keyless GitHub Actions -> Google Cloud, run once per GCP project by an admin.

Declares the Workload Identity pool and GitHub provider, a deployer and a read-only previewer
service account with their project roles, the bindings that let exactly the allowed GitHub
subjects impersonate each, and optionally the bucket of a self-managed Pulumi backend.
"""

import pulumi
import pulumi_gcp as gcp
from delivery_settings import load_bootstrap_settings
from deploy_roles import DEPLOYER_ROLES, PREVIEWER_ROLES
from github_oidc import (
    GithubOidc,
    GithubOidcArgs,
    environment_subject,
    principal,
    pull_request_subject,
)

settings = load_bootstrap_settings()  # raises InvalidBootstrapConfig before any resource
project = settings.project

# iamcredentials + sts: the token exchange GitHub's auth action performs.
apis: list[pulumi.Resource] = [
    gcp.projects.Service(
        api.split(".")[0],
        project=project,
        service=api,
        disable_on_destroy=False,
    )
    for api in (
        "iam.googleapis.com",
        "iamcredentials.googleapis.com",
        "sts.googleapis.com",
        "cloudresourcemanager.googleapis.com",
    )
]

oidc = GithubOidc("github", GithubOidcArgs(settings=settings, depends_on=apis))


def account(name: str, description: str) -> gcp.serviceaccount.Account:
    return gcp.serviceaccount.Account(
        name,
        project=project,
        account_id=f"gh-{name}",
        display_name=description,
        opts=pulumi.ResourceOptions(depends_on=apis),
    )


def grant_roles(name: str, member: pulumi.Input[str], roles: dict[str, str]) -> None:
    for role in roles:
        gcp.projects.IAMMember(f"{name}-{role.removeprefix('roles/').replace('.', '-')}",
                               project=project, role=role, member=member)


def allow_impersonation(name: str, sa: gcp.serviceaccount.Account, subject: str) -> None:
    gcp.serviceaccount.IAMMember(
        name,
        service_account_id=sa.name,
        role="roles/iam.workloadIdentityUser",
        member=principal(oidc.pool.name, subject),
    )


exports: dict[str, pulumi.Input[str]] = {
    "workload_identity_provider": oidc.provider.name,
    "pool_id": settings.pool_id,
}
accounts: list[tuple[str, gcp.serviceaccount.Account]] = []
if settings.deploy:
    deployer = account("deployer", "GitHub Actions: pulumi up of cloudrun-celery")
    grant_roles("deployer", deployer.member, DEPLOYER_ROLES)
    for target in settings.deploy:
        allow_impersonation(
            f"deployer-from-{target.environment}", deployer,
            environment_subject(settings.repository, target.environment),
        )
    accounts.append(("deployer", deployer))
    exports["deployer_service_account"] = deployer.email
if settings.preview_from_pull_requests:
    previewer = account("previewer", "GitHub Actions: pulumi preview of pull requests (read-only)")
    grant_roles("previewer", previewer.member, PREVIEWER_ROLES)
    allow_impersonation("previewer-from-pull-requests", previewer, pull_request_subject(settings.repository))
    accounts.append(("previewer", previewer))
    exports["previewer_service_account"] = previewer.email

if settings.state_bucket:
    # Self-managed backend: `pulumi login gs://<bucket>`. Versioned, so a bad write can be undone.
    bucket = gcp.storage.Bucket(
        "pulumi-state",
        project=project,
        name=f"{project}-pulumi-state",
        location=settings.state_bucket_location,
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning={"enabled": True},
        opts=pulumi.ResourceOptions(protect=True),
    )
    # Bucket-level grants: state is readable by the previewer, writable by the deployer only.
    for name, sa in accounts:
        gcp.storage.BucketIAMMember(
            f"{name}-state",
            bucket=bucket.name,
            role="roles/storage.objectAdmin" if name == "deployer" else "roles/storage.objectViewer",
            member=sa.member,
        )
    exports["state_backend"] = pulumi.Output.concat("gs://", bucket.name)

for key, value in exports.items():
    pulumi.export(key, value)
