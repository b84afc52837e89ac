"""python -m cost as the PR preview runs it: the delta against a git ref, and every bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cost.price_table import load_prices
from cost.stack_file import PROJECT_ROOT
from tests.cost.stack_files import changed, changed_text, write

PRICES = load_prices().prices
MONTH_S = 730 * 3600
# prod's `fast` instance: 2 vCPU, 2 GiB, CPU always on, plus its collector sidecar (0.25 vCPU, 256 MiB).
FAST_INSTANCE = MONTH_S * (2.25 * PRICES["run.instance.cpu"].amount + 2.25 * PRICES["run.instance.memory"].amount)


def cost(*args: str, root: Path | None = None) -> subprocess.CompletedProcess[str]:
    root_args = ["--project-root", str(root)] if root else []
    return subprocess.run(
        [sys.executable, "-m", "cost", *root_args, *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=cost test", "-c", "user.email=cost@test.invalid", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repo holding today's stack files, committed as `base`."""
    git(tmp_path, "init", "-q", "-b", "main")
    for stack in ("dev", "prod"):
        write(tmp_path / f"Pulumi.{stack}.yaml", (PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    git(tmp_path, "tag", "base")
    return tmp_path


def money(amount: float) -> str:
    return f"${amount:,.2f}"


def test_resizing_worker_min_instances_shows_the_delta_line_by_line(repo: Path) -> None:
    write(repo / "Pulumi.prod.yaml", changed("prod", "workers[0]", minInstances=3))
    result = cost("--stack", "prod", "--base", "base", "--format", "markdown", root=repo)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "### Cost change of stack `prod` against `base`"
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| Item | Size (before → after) | Idle before | Idle after | Idle change | Under-load change |"
    # One changed item (a third 2 vCPU / 2 GiB `fast` instance), then the totals; nothing else.
    assert table[2] == (
        "| Worker `fast` (service, CPU always on) | 2 × 2 vCPU / 2Gi + collector 0.25 vCPU / 256Mi → "
        "3 × 2 vCPU / 2Gi + collector 0.25 vCPU / 256Mi "
        f"| {money(2 * FAST_INSTANCE)} | {money(3 * FAST_INSTANCE)} | +{money(FAST_INSTANCE)} | +{money(FAST_INSTANCE)} |"
    )
    assert table[3].startswith("| **Total** |")
    assert table[3].endswith(f"| **+{money(FAST_INSTANCE)}** | **+{money(FAST_INSTANCE)}** |")
    assert len(table) == 4
    assert "7 unchanged item(s) not shown" in result.stdout


def test_a_shrink_and_a_worker_pool_resize_both_show(repo: Path) -> None:
    text = changed("prod", "workers[0]", minInstances=1)
    write(repo / "Pulumi.prod.yaml", changed_text(text, "workers[1]", minInstances=1))
    result = cost("--stack", "prod", "--base", "base", "--format", "markdown", root=repo)
    assert result.returncode == 0, result.stderr
    rows = {line.split(" | ")[0]: line for line in result.stdout.splitlines() if line.startswith("| Worker")}
    assert rows["| Worker `fast` (service, CPU always on)"].endswith(
        f"| -{money(FAST_INSTANCE)} | -{money(FAST_INSTANCE)} |"
    )
    pool = MONTH_S * (2.25 * PRICES["run.instance.cpu"].amount + 4.25 * PRICES["run.instance.memory"].amount)
    # bulk autoscales 0-10: a minimum of 1 costs a whole instance idle; under load it already ran 0.83.
    assert f"| $0.00 | {money(pool)} | +{money(pool)} | +" in rows["| Worker `bulk` (worker pool, autoscaled on its queue)"]


def test_encrypted_values_are_skipped_quietly(repo: Path) -> None:
    secrets = "  cloudrun-celery:apiKeys:\n    secure: v1:AAAA\n"
    write(repo / "Pulumi.prod.yaml", (PROJECT_ROOT / "Pulumi.prod.yaml").read_text() + secrets)
    result = cost("--stack", "prod", "--base", "base", root=repo)
    assert (result.returncode, result.stderr) == (0, "")
    assert "No cost change" in result.stdout


def test_no_change_says_so(repo: Path) -> None:
    result = cost("--stack", "dev", "--base", "base", "--format", "markdown", root=repo)
    assert result.returncode == 0, result.stderr
    assert "No cost change" in result.stdout


def test_a_stack_new_since_the_base_is_priced_whole(repo: Path) -> None:
    write(repo / "Pulumi.staging.yaml", (PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    result = cost("--stack", "staging", "--base", "base", "--format", "markdown", root=repo)
    assert result.returncode == 0, result.stderr
    assert "New stack (no Pulumi.staging.yaml at `base`)" in result.stdout


def test_plain_run_prints_every_stack_as_text() -> None:
    result = cost()
    assert result.returncode == 0, result.stderr
    assert "Stack dev:" in result.stdout and "Stack prod:" in result.stdout and "|" not in result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--stack", "nope"], "unknown stack 'nope': Pulumi.nope.yaml does not exist"),
        (["--stack", "prod", "--base", "no-such-ref"], "--base 'no-such-ref' is not a commit"),
        (["--tasks-per-second", "0"], "must be greater than 0"),
    ],
)
def test_bad_input_exits_2_naming_the_cause_and_fix(args: list[str], says: str, repo: Path) -> None:
    result = cost(*args, root=repo)
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_stack_file_exits_2_with_the_settings_message(repo: Path) -> None:
    write(repo / "Pulumi.dev.yaml", changed("dev", "api", cpu=3))
    result = cost("--stack", "dev", root=repo)
    assert result.returncode == 2
    assert "Pulumi.dev.yaml" in result.stderr and "api.cpu: got 3" in result.stderr
    assert "Fix the stack file" in result.stderr


def test_invalid_stack_file_at_the_base_names_the_ref(repo: Path) -> None:
    write(repo / "Pulumi.dev.yaml", changed("dev", "redis", memorySizeGb=0))
    git(repo, "commit", "-q", "-am", "broken")
    write(repo / "Pulumi.dev.yaml", (PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    result = cost("--stack", "dev", "--base", "HEAD", root=repo)
    assert result.returncode == 2
    assert "Pulumi.dev.yaml at HEAD" in result.stderr and "redis.memorySizeGb: got 0" in result.stderr


def test_unparseable_yaml_exits_2(repo: Path) -> None:
    write(repo / "Pulumi.dev.yaml", "config: [unclosed\n")
    result = cost("--stack", "dev", root=repo)
    assert result.returncode == 2
    assert "is not valid YAML" in result.stderr


def test_load_flags_reach_the_estimate() -> None:
    result = cost("--stack", "prod", "--tasks-per-second", "60", "--task-seconds", "5", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert "Load: 60 tasks/s of 5 s each" in result.stdout
    assert "needs 0.40 instances" in result.stdout  # prod `fast`: 40 tasks/s × 5 s / (250 × 2 processes)


def test_check_docs_fails_until_write_docs(repo: Path) -> None:
    (repo / "docs").mkdir()
    for name in ("README.md", "docs/cost.md"):
        write(repo / name, (PROJECT_ROOT / name).read_text())
    assert cost("--check-docs", root=repo).returncode == 0
    write(repo / "Pulumi.prod.yaml", changed("prod", "redis", memorySizeGb=10))
    stale = cost("--check-docs", root=repo)
    assert stale.returncode == 1
    assert "README.md is stale: run python -m cost --write-docs" in stale.stderr
    assert cost("--write-docs", root=repo).returncode == 0
    assert cost("--check-docs", root=repo).returncode == 0
    assert "STANDARD_HA, 10 GB (M2)" in (repo / "docs" / "cost.md").read_text()
