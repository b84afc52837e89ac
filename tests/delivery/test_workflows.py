"""Every workflow passes actionlint and zizmor, and keeps the keyless, pinned, no-PR-code-with-secrets rules."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.delivery.workflow_rules import (
    WORKFLOWS,
    key_credentials,
    load,
    pull_request_target_checkouts,
    steps,
    unpinned_actions,
)
from tests.support.system_packages import ensure_commands

ROOT = WORKFLOWS.parents[1]
ALL = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert path, f"{name} is not installed: pip install -r requirements-test.txt"
    return path


def test_the_workflows_exist() -> None:
    assert {p.name for p in ALL} >= {"ci.yml", "preview.yml", "deploy.yml"}


def test_actionlint_passes_on_every_workflow() -> None:
    # With shellcheck on PATH, actionlint also checks every `run:` script.
    ensure_commands({"shellcheck": "shellcheck"})
    result = subprocess.run([tool("actionlint"), *map(str, ALL)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_passes_on_every_workflow() -> None:
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--config", ".github/zizmor.yml", ".github/workflows", ".github/dependabot.yml"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_no_service_account_key(path: Path) -> None:
    assert key_credentials(path.read_text()) == []


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_released_version(path: Path) -> None:
    assert unpinned_actions(load(path)) == []


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_no_pull_request_target_checks_out_pr_code(path: Path) -> None:
    assert pull_request_target_checkouts(load(path)) == []


# The rules catch what they are for.
BAD = """
on: pull_request_target
jobs:
  j:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v5
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - uses: google-github-actions/auth@main
        with:
          credentials_json: ${{ secrets.KEY }}
      - uses: some-org/some-action
      - uses: other/action@v2
      - run: gh pr checkout 1
"""


def test_the_rules_catch_a_bad_workflow() -> None:
    bad: dict[Any, Any] = yaml.safe_load(BAD)
    assert key_credentials(BAD) == ["credentials_json"]
    assert unpinned_actions(bad) == ["google-github-actions/auth@main", "some-org/some-action"]
    assert len(pull_request_target_checkouts(bad)) == 2


def jobs(name: str) -> dict[str, Any]:
    jobs_: dict[str, Any] = load(WORKFLOWS / name)["jobs"]
    return jobs_


def test_preview_is_keyless_matrixed_over_stacks_and_enforces_the_policy_pack() -> None:
    preview = jobs("preview.yml")
    assert load(WORKFLOWS / "preview.yml")["permissions"] == {}
    job = preview["preview"]
    assert job["permissions"]["id-token"] == "write"
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    auth = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("google-github-actions/auth@"))
    assert set(auth["with"]) == {"workload_identity_provider", "service_account"}
    runs = "\n".join(str(s.get("run", "")) for s in job["steps"])
    assert "--policy-pack policy" in runs and "python -m cost" in runs
    # Only the preview job gets an OIDC token; nothing else may write or mint tokens.
    others = {n: j.get("permissions", {}) for n, j in preview.items() if n != "preview"}
    assert all("id-token" not in p for p in others.values())


def test_fork_prs_get_a_clear_notice_instead_of_a_preview() -> None:
    preview = jobs("preview.yml")
    same_repo = "github.event.pull_request.head.repo.full_name == github.repository"
    assert preview["stacks"]["if"] == same_repo
    assert preview["fork-notice"]["if"] == same_repo.replace("==", "!=")
    notice = preview["fork-notice"]["steps"][0]["run"]
    assert "fork" in notice and "OIDC" in notice and "::notice" in notice


def test_deploy_runs_one_up_per_stack_at_a_time_behind_its_environment() -> None:
    deploy = jobs("deploy.yml")["deploy"]
    assert deploy["environment"] == "${{ needs.target.outputs.stack }}"
    assert deploy["concurrency"] == {"group": "pulumi-up-${{ needs.target.outputs.stack }}",
                                     "cancel-in-progress": False}
    triggers = load(WORKFLOWS / "deploy.yml")[True]
    assert triggers["push"] == {"branches": ["main"], "tags": ["v*"]}
    assert "workflow_dispatch" in triggers


def test_deploy_verifies_the_new_api_revision_before_traffic_moves_and_rolls_back_on_failure() -> None:
    steps_ = jobs("deploy.yml")["deploy"]["steps"]
    runs = [str(s.get("run", "")) for s in steps_]

    def first(*needles: str) -> int:
        return next(i for i, r in enumerate(runs) if all(n in r for n in needles))

    candidate = first("api_serving_revision", "pulumi up", "--refresh")
    verify_tag = first("api_candidate_url", "scripts/verify_deploy.py", "--api-url")
    promote = first("api_latest_revision", "api.rollout.servingRevision", "pulumi up")
    verify = next(i for i, r in enumerate(runs) if "scripts/verify_deploy.py" in r and "--api-url" not in r)
    rollback = first("LAST_GOOD", "api.rollout.servingRevision", "pulumi up", "exit 1")
    assert candidate < verify_tag < promote < verify < rollback
    assert steps_[promote]["id"] == "promote" and steps_[candidate]["id"] == "candidate"
    # Rolls back only when traffic had moved (promotion ran) and there is a last good revision.
    assert steps_[rollback]["if"] == (
        "failure() && steps.promote.outcome != 'skipped' && steps.candidate.outputs.serving != ''"
    )
    assert all("if" not in s for s in steps_[:rollback])


def test_dependabot_watches_actions_pip_and_the_base_images() -> None:
    updates = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())["updates"]
    watched = {(u["package-ecosystem"], d) for u in updates for d in u.get("directories", [u.get("directory")])}
    assert ("github-actions", "/") in watched
    assert {("pip", "/"), ("docker", "/services/api"), ("docker", "/services/worker")} <= watched
    for requirements in ROOT.glob("**/requirements*.txt"):
        if ".venv" not in requirements.parts and "venv" not in requirements.parts:
            directory = "/" + str(requirements.parent.relative_to(ROOT)).removeprefix(".")
            assert ("pip", directory.rstrip("/") or "/") in watched, requirements


def test_every_step_that_runs_a_shell_script_reads_inputs_from_env_not_templates() -> None:
    # Template expansion inside `run:` is how untrusted input becomes shell code.
    for path in ALL:
        for step in steps(load(path)):
            assert "${{" not in str(step.get("run", "")), f"{path.name}: {step.get('name') or step['run'][:60]}"


def test_the_pulumi_cli_is_the_release_of_the_pinned_sdk() -> None:
    sdk = next(line.split("==")[1].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
               if line.startswith("pulumi=="))
    versions = {str((s.get("with") or {}).get("pulumi-version")) for p in ALL for s in steps(load(p))
                if str(s.get("uses", "")).startswith("pulumi/actions@")}
    assert versions == {sdk}


def test_docs_pins_lists_every_action_at_its_pin() -> None:
    pins = (ROOT / "docs" / "pins.md").read_text()
    used = {str(s["uses"]) for p in ALL for s in steps(load(p)) if "uses" in s}
    for uses in used:
        action, _, ref = uses.partition("@")
        assert f"| `{action}` | `{ref}` |" in pins, f"docs/pins.md does not list {uses}"
