"""The project roles of the two CI identities, each with the reason the main program needs it.

Derived from what ``infra/`` declares (docs/architecture.md). Nothing owner- or editor-wide; the
previewer reads and never writes, and never reads a secret's payload.
"""

from __future__ import annotations

from typing import Final

# `pulumi up --refresh` of the main program (infra/).
DEPLOYER_ROLES: Final[dict[str, str]] = {
    "roles/run.admin": "Cloud Run services and worker pools, and the API's allUsers invoker binding",
    "roles/redis.admin": "the Memorystore instance (Broker)",
    "roles/compute.networkAdmin": "the VPC and subnet (Network); Direct VPC egress uses the subnet",
    "roles/vpcaccess.admin": "the Serverless VPC Access connector (network.egress: connector)",
    "roles/secretmanager.admin": (
        "secrets, the versions Pulumi writes (refresh reads them back) and per-secret accessor grants"
    ),
    "roles/artifactregistry.admin": "the image repository with its cleanup policies, and pushing the images",
    "roles/iam.serviceAccountAdmin": "one service account per workload (Identities)",
    "roles/iam.serviceAccountUser": "deploy Cloud Run revisions that run as those service accounts (actAs)",
    "roles/serviceusage.serviceUsageAdmin": "enable the Google APIs the stack uses (ProjectApis)",
}

# `pulumi preview` on pull requests: reads the live configuration, changes nothing.
PREVIEWER_ROLES: Final[dict[str, str]] = {
    "roles/viewer": "read the configuration of every resource the program declares, and the project",
    "roles/iam.securityReviewer": "read the IAM policies behind the program's *IamMember resources",
    "roles/secretmanager.viewer": "secret metadata (ids, versions), never a payload",
}

# Never granted to either account: project-wide owner/editor, or reading secret payloads for PRs.
FORBIDDEN_FOR_PREVIEWER: Final = frozenset(
    {"roles/owner", "roles/editor", "roles/secretmanager.secretAccessor", "roles/secretmanager.admin"}
)
