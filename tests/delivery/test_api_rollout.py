"""The API's traffic block and rollout outputs under mocks: first deploy, rollout, rollback; the verify key."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.infra.harness import PROJECT_ROOT, ProgramError, ProgramRun, Secret, run_program_full

SERVICE = "gcp:cloudrunv2/service:Service"
OLD = "celery-dev-api-00041-old"
NEW = "celery-dev-api-00001-new"  # what the mocks name the newest revision
LATEST = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
REVISION = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"


def dev_api(**rollout: Any) -> dict[str, Any]:
    config = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())["config"]
    api: dict[str, Any] = dict(config["cloudrun-celery:api"])
    if rollout:
        api["rollout"] = rollout
    return api


def deploy(**rollout: Any) -> ProgramRun:
    return run_program_full("dev", {"api": dev_api(**rollout)})


def traffic(run: ProgramRun) -> list[dict[str, Any]]:
    return list(run.named(SERVICE, "api").inputs["traffics"])


def test_first_deploy_the_new_revision_serves_and_has_a_tag_url(dev: ProgramRun) -> None:
    assert traffic(dev) == [{"type": LATEST, "percent": 100, "tag": "candidate"}]
    assert dev.exports["api_candidate_url"] == "https://candidate---celery-dev-api-abc123de-ew.a.run.app"
    assert dev.exports["api_serving_revision"] == dev.exports["api_latest_revision"] == NEW


def test_rollout_the_new_revision_starts_without_traffic_then_is_promoted() -> None:
    candidate = deploy(servingRevision=OLD)
    assert traffic(candidate) == [
        {"type": REVISION, "revision": OLD, "percent": 100},
        {"type": LATEST, "percent": 0, "tag": "candidate"},
    ]
    assert candidate.exports["api_serving_revision"] == OLD
    assert candidate.exports["api_latest_revision"] == NEW

    # deploy.yml promotes what it verified: api_latest_revision becomes servingRevision.
    promoted = deploy(servingRevision=candidate.exports["api_latest_revision"])
    assert traffic(promoted)[0] == {"type": REVISION, "revision": NEW, "percent": 100}
    assert promoted.exports["api_serving_revision"] == NEW
    # Promotion changes only the traffic block: the same template, so no new revision.
    assert promoted.named(SERVICE, "api").inputs["template"] == candidate.named(SERVICE, "api").inputs["template"]


def test_rollback_puts_all_traffic_back_on_the_last_good_revision() -> None:
    rolled_back = deploy(servingRevision=OLD)
    assert traffic(rolled_back) == [
        {"type": REVISION, "revision": OLD, "percent": 100},
        {"type": LATEST, "percent": 0, "tag": "candidate"},
    ]
    assert rolled_back.exports["api_serving_revision"] == OLD


def test_the_candidate_tag_is_configurable() -> None:
    run = deploy(candidateTag="next")
    assert traffic(run)[0]["tag"] == "next"
    assert run.exports["api_candidate_url"].startswith("https://next---")


def test_workers_keep_cloud_runs_default_traffic(dev: ProgramRun) -> None:
    for service in dev.of_type(SERVICE):
        if service.name != "api":
            assert "traffics" not in service.inputs


@pytest.mark.parametrize(
    ("rollout", "message"),
    [
        ({"servingRevision": "Not_A_Revision"}, "api.rollout.servingRevision"),
        ({"candidateTag": "x" * 30}, "api.rollout.candidateTag"),
        ({"percent": 10}, "api.rollout.percent"),
    ],
)
def test_bad_rollout_config_is_refused(rollout: dict[str, Any], message: str) -> None:
    with pytest.raises(ProgramError, match="Invalid stack config") as failure:
        deploy(**rollout)
    assert message in str(failure.value)


def test_the_verify_key_is_a_secret_only_the_api_reads() -> None:
    run = run_program_full("dev", {"verifyKey": Secret("verify-123")})
    secret = run.named("gcp:secretmanager/secret:Secret", "verify-key")
    assert secret.inputs["secretId"] == "celery-dev-verify-key"
    version = run.named("gcp:secretmanager/secretVersion:SecretVersion", "verify-key")
    assert "secretData" in version.secret_inputs
    readers = [r for r in run.of_type("gcp:secretmanager/secretIamMember:SecretIamMember")
               if r.inputs["secretId"] == "celery-dev-verify-key"]
    assert [r.inputs["member"] for r in readers] == ["serviceAccount:celery-dev-api@my-gcp-project-dev.iam.gserviceaccount.com"]
    envs = {e["name"]: e for e in run.named(SERVICE, "api").inputs["template"]["containers"][0]["envs"]}
    assert envs["API_KEYS"]["valueSource"]["secretKeyRef"]["secret"] == "celery-dev-verify-key"
    for worker in (s for s in run.of_type(SERVICE) if s.name != "api"):
        assert "API_KEYS" not in {e["name"] for e in worker.inputs["template"]["containers"][0]["envs"]}
    assert run.exports["secret_names"]["verify-key"] == "celery-dev-verify-key"


def test_without_a_verify_key_there_is_no_secret_and_no_env(dev: ProgramRun) -> None:
    assert "verify-key" not in dev.exports["secret_names"]
    envs = {e["name"] for e in dev.named(SERVICE, "api").inputs["template"]["containers"][0]["envs"]}
    assert "API_KEYS" not in envs


def test_a_plaintext_verify_key_is_refused() -> None:
    with pytest.raises(ProgramError, match="pulumi config set --secret cloudrun-celery:verifyKey"):
        run_program_full("dev", {"verifyKey": "plain"})
