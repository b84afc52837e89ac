"""The preview workflow's two scripts: which stacks a PR can change, and the one PR comment."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / ".github" / "scripts"


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stacks = script("preview_stacks")
comment = script("preview_comment")
EXISTING = ["dev", "prod"]


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["Pulumi.prod.yaml"], ["prod"]),
        (["Pulumi.dev.yaml", "docs/cost.md"], ["dev"]),
        (["infra/cloudrun/api_service.py"], ["dev", "prod"]),
        (["services/worker/worker/app.py", "Pulumi.dev.yaml"], ["dev", "prod"]),
        (["policy/cloudrun_celery_policy/rules.py"], ["dev", "prod"]),
        (["requirements.txt"], ["dev", "prod"]),
        (["README.md", "docs/delivery.md", "tests/delivery/test_bootstrap.py"], []),
        (["Pulumi.staging.yaml"], []),  # deleted (not among the existing stacks): nothing to preview
    ],
)
def test_stacks_a_change_can_affect(paths: list[str], expected: list[str]) -> None:
    assert stacks.stacks_changed_by(paths, EXISTING) == expected


def test_the_repository_stacks_are_found() -> None:
    assert stacks.all_stacks() == ["dev", "gke", "prod"]


def test_the_script_prints_a_github_output_line_from_git(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(SCRIPTS / "preview_stacks.py"), "--base", "HEAD"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.startswith("stacks=")
    json.loads(result.stdout.removeprefix("stacks="))


def test_a_missing_base_ref_says_how_to_fix_it() -> None:
    result = subprocess.run([sys.executable, str(SCRIPTS / "preview_stacks.py"), "--base", "no-such-ref-xyz"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "fetch-depth: 0" in result.stderr


def write_stack(root: Path, stack: str, code: str | None, preview: str, cost: str | None) -> None:
    directory = root / stack
    directory.mkdir(parents=True)
    if code is not None:
        (directory / "exit-code").write_text(code + "\n")
    (directory / "preview.txt").write_text(preview)
    if cost is not None:
        (directory / "cost.md").write_text(cost)


def test_one_comment_holds_every_stack_preview_policy_and_cost(tmp_path: Path) -> None:
    write_stack(tmp_path, "dev", "0", "~ cloudrun-celery:infra:WorkerService worker-fast", "| item | Δ |\n| a | +$1 |")
    write_stack(tmp_path, "prod", "255", "Policies:\n  mandatory: worker-not-public", None)
    body = comment.comment_body(tmp_path)
    assert body.startswith(comment.MARKER + "\n")
    assert "### `dev`: preview passed, policy pack passed" in body
    assert "### `prod`: **failed** (exit 255)" in body
    assert "mandatory: worker-not-public" in body
    assert "| a | +$1 |" in body
    assert "(no cost estimate: see the job log)" in body


def test_a_stack_whose_job_died_says_so(tmp_path: Path) -> None:
    write_stack(tmp_path, "dev", None, "", None)
    assert "no result: the preview job stopped" in comment.comment_body(tmp_path)


def test_a_huge_preview_is_cut_to_fit_a_github_comment(tmp_path: Path) -> None:
    write_stack(tmp_path, "dev", "0", "x" * 200_000 + "THE END", "cost")
    body = comment.comment_body(tmp_path)
    assert len(body) < 65_536
    assert "THE END" in body and "(cut; the job log has it all)" in body


def test_no_stack_changed(tmp_path: Path) -> None:
    assert "changes no stack" in comment.comment_body(tmp_path / "absent")
