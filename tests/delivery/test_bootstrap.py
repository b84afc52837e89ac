"""The bootstrap program under mocks: the OIDC condition, the roles, and two separate accounts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.delivery.bootstrap_program import PROJECT_NUMBER, BootstrapRun, run_bootstrap

REPO = "my-org/cloudrun-celery"
POOL = f"projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/github"
IAM_MEMBER = "gcp:projects/iAMMember:IAMMember"
SA_BINDING = "gcp:serviceaccount/iAMMember:IAMMember"
PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"


def config(**github: Any) -> dict[str, Any]:
    return {
        "gcp:project": "my-gcp-project-dev",
        "cloudrun-celery-bootstrap:github": {
            "repository": REPO,
            "deploy": [
                {"environment": "dev", "refs": ["refs/heads/main"]},
                {"environment": "prod", "refs": ["refs/heads/main", "refs/tags/v*"]},
            ],
            **github,
        },
    }


@pytest.fixture(scope="module")
def bootstrap() -> BootstrapRun:
    return run_bootstrap(config())


def roles_of(run: BootstrapRun, account: str) -> set[str]:
    member = f"serviceAccount:gh-{account}@my-gcp-project-dev.iam.gserviceaccount.com"
    return {r.inputs["role"] for r in run.of_type(IAM_MEMBER) if r.inputs["member"] == member}


def test_condition_pins_the_repository_and_each_deploy_environment_to_its_refs(bootstrap: BootstrapRun) -> None:
    condition = bootstrap.one(PROVIDER).inputs["attributeCondition"]
    assert condition == (
        f"assertion.repository == '{REPO}' && ("
        f"assertion.sub == 'repo:{REPO}:pull_request'"
        f" || (assertion.sub == 'repo:{REPO}:environment:dev' && (assertion.ref == 'refs/heads/main'))"
        f" || (assertion.sub == 'repo:{REPO}:environment:prod' && (assertion.ref == 'refs/heads/main'"
        " || assertion.ref.startsWith('refs/tags/v'))))"
    )
    provider = bootstrap.one(PROVIDER).inputs
    assert provider["oidc"]["issuerUri"] == "https://token.actions.githubusercontent.com"
    assert provider["attributeMapping"]["google.subject"] == "assertion.sub"


def test_without_pull_request_previews_the_condition_admits_only_deploys() -> None:
    run = run_bootstrap(config(previewFromPullRequests=False))
    condition = run.one(PROVIDER).inputs["attributeCondition"]
    assert "pull_request" not in condition
    assert [a.name for a in run.of_type("gcp:serviceaccount/account:Account")] == ["deployer"]


def test_deployer_has_exactly_the_roles_the_main_program_needs(bootstrap: BootstrapRun) -> None:
    assert roles_of(bootstrap, "deployer") == {
        "roles/run.admin",
        "roles/redis.admin",
        "roles/compute.networkAdmin",
        "roles/vpcaccess.admin",
        "roles/secretmanager.admin",
        "roles/artifactregistry.admin",
        "roles/iam.serviceAccountAdmin",
        "roles/iam.serviceAccountUser",
        "roles/serviceusage.serviceUsageAdmin",
    }


def test_previewer_reads_and_never_writes_or_reads_secret_payloads(bootstrap: BootstrapRun) -> None:
    roles = roles_of(bootstrap, "previewer")
    assert roles == {"roles/viewer", "roles/iam.securityReviewer", "roles/secretmanager.viewer"}
    assert not roles & {"roles/owner", "roles/editor", "roles/secretmanager.secretAccessor"}
    assert not any(role.endswith(("admin", "Admin", "User", "writer")) for role in roles)


def test_nobody_gets_owner_or_editor(bootstrap: BootstrapRun) -> None:
    granted = {r.inputs["role"] for r in bootstrap.of_type(IAM_MEMBER)}
    assert not granted & {"roles/owner", "roles/editor"}


def test_each_account_is_impersonable_only_by_its_own_github_subjects(bootstrap: BootstrapRun) -> None:
    bindings = {
        (r.inputs["serviceAccountId"].rsplit("/", 1)[1].split("@")[0], r.inputs["member"])
        for r in bootstrap.of_type(SA_BINDING)
    }
    assert bindings == {
        ("gh-deployer", f"principal://iam.googleapis.com/{POOL}/subject/repo:{REPO}:environment:dev"),
        ("gh-deployer", f"principal://iam.googleapis.com/{POOL}/subject/repo:{REPO}:environment:prod"),
        ("gh-previewer", f"principal://iam.googleapis.com/{POOL}/subject/repo:{REPO}:pull_request"),
    }
    assert {r.inputs["role"] for r in bootstrap.of_type(SA_BINDING)} == {"roles/iam.workloadIdentityUser"}


def test_exports_are_what_the_workflows_need(bootstrap: BootstrapRun) -> None:
    assert bootstrap.exports["workload_identity_provider"] == f"{POOL}/providers/github-oidc"
    assert bootstrap.exports["deployer_service_account"].startswith("gh-deployer@")
    assert bootstrap.exports["previewer_service_account"].startswith("gh-previewer@")
    assert "state_backend" not in bootstrap.exports


def test_pool_id_is_configurable_for_a_recreate_after_destroy() -> None:
    run = run_bootstrap({**config(), "cloudrun-celery-bootstrap:workloadIdentity": {"poolId": "github-2"}})
    assert run.one("gcp:iam/workloadIdentityPool:WorkloadIdentityPool").inputs["workloadIdentityPoolId"] == "github-2"
    assert "/workloadIdentityPools/github-2/subject/" in run.of_type(SA_BINDING)[0].inputs["member"]


def test_state_bucket_is_private_versioned_and_writable_by_the_deployer_only() -> None:
    run = run_bootstrap({**config(), "cloudrun-celery-bootstrap:stateBucket": {"create": True}})
    bucket = run.one("gcp:storage/bucket:Bucket").inputs
    assert bucket["publicAccessPrevention"] == "enforced"
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["versioning"] == {"enabled": True}
    grants = {r.name: r.inputs["role"] for r in run.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")}
    assert grants == {"deployer-state": "roles/storage.objectAdmin", "previewer-state": "roles/storage.objectViewer"}
    assert run.exports["state_backend"] == "gs://my-gcp-project-dev-pulumi-state"


@pytest.mark.parametrize(
    ("github", "message"),
    [
        ({"repository": "my-org/repo' || true || '"}, "github.repository"),
        ({"deploy": [{"environment": "dev", "refs": ["main"]}]}, "refs/heads/<branch>"),
        ({"deploy": [{"environment": "dev"}]}, "list at least one ref"),
        ({"deploy": [], "previewFromPullRequests": False}, "nothing may use this provider"),
    ],
)
def test_bad_config_is_refused_before_any_resource(github: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match="invalid bootstrap config") as failure:
        run_bootstrap(config(**github))
    assert message in str(failure.value)


def test_reserved_pool_id_is_refused() -> None:
    with pytest.raises(Exception, match="reserved prefix"):
        run_bootstrap({**config(), "cloudrun-celery-bootstrap:workloadIdentity": {"poolId": "gcp-pool"}})
