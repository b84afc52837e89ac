"""Static checks of the Dockerfile and the build context: fast, no podman.

What Cloud Run and the runtime contract (docs/runtime-contract.md) need from the images, read
straight from the files, plus hadolint through the same runner ``make lint`` uses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = REPO_ROOT / "services"
HADOLINT = REPO_ROOT / "scripts" / "hadolint.py"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def stages(dockerfile: Path) -> dict[str, list[tuple[str, str]]]:
    """Each ``FROM ... AS name`` stage's instructions, by name."""
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, args in instructions(dockerfile):
        if keyword == "FROM":
            current = []
            found[args.split(" AS ")[-1]] = current
        current.append((keyword, args))
    return found


DOCKERFILE = SERVICES / "Dockerfile"


def test_one_dockerfile_builds_both_images() -> None:
    # One body: a build stage parametrised by SERVICE, a shared runtime stage, a target per image.
    steps = instructions(DOCKERFILE)
    assert steps[0] == ("ARG", "BASE_IMAGE=python:3.11-slim"), steps[0]
    froms = [args for keyword, args in steps if keyword == "FROM"]
    assert froms == [
        "${BASE_IMAGE} AS build",
        "${BASE_IMAGE} AS runtime",
        "runtime AS api",
        "runtime AS worker",
    ], froms
    assert not list(SERVICES.glob("*/Dockerfile")), "the per-service Dockerfiles are gone"


@pytest.mark.parametrize("service", ["api", "worker"])
def test_dockerfile_meets_the_runtime_contract(service: str) -> None:
    by_stage = stages(DOCKERFILE)
    runtime = by_stage["runtime"] + by_stage[service]
    copies = [args for keyword, args in runtime if keyword == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv"], "the runtime stage takes only the venv"

    users = [args for keyword, args in runtime if keyword == "USER"]
    assert users == ["10001:10001"], f"runtime stage must run as UID 10001, got USER {users}"

    # Exec form, so python is PID 1 and receives SIGTERM (a shell form would wrap it in /bin/sh -c).
    (entrypoint,) = [args for keyword, args in by_stage[service] if keyword == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["/opt/venv/bin/python", "-m", service]
    steps = instructions(DOCKERFILE)
    assert not [keyword for keyword, _ in steps if keyword == "CMD"], "no CMD: nothing to override by accident"

    env = " ".join(args for keyword, args in runtime if keyword == "ENV")
    assert "PORT=8080" in env and "PYTHONUNBUFFERED=1" in env and "PYTHONDONTWRITEBYTECODE=1" in env
    assert ("REMAP_SIGTERM=SIGQUIT" in env) == (service == "worker"), env
    assert ("EXPOSE", "8080") in runtime


def test_build_tools_and_bytecode_leave_the_venv() -> None:
    # The runtime stage copies the venv whole, so what the build stage leaves in it ships.
    build = " ".join(args for keyword, args in stages(DOCKERFILE)["build"] if keyword == "RUN")
    assert "pip uninstall --yes --no-cache-dir setuptools wheel pip" in build
    assert "-name __pycache__" in build


def test_dockerignore_keeps_local_artifacts_out_of_the_context() -> None:
    patterns = {
        line.strip()
        for line in (SERVICES / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for pattern in ("**/__pycache__", "**/*.egg-info", "**/.venv", "**/venv", "**/tests", "**/.env"):
        assert pattern in patterns, f"{pattern} missing from services/.dockerignore"


def run_hadolint(*dockerfiles: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HADOLINT), *map(str, dockerfiles)],
        capture_output=True, text=True, timeout=300, check=False,
    )


def test_hadolint_passes_on_the_dockerfile() -> None:
    result = run_hadolint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no findings in 1 Dockerfile(s)" in result.stdout


def test_hadolint_runner_reports_findings(tmp_path: Path) -> None:
    """The runner fails on a bad Dockerfile, so a green lint means something."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install flask\nENTRYPOINT python -m app\n")
    result = run_hadolint(bad)
    assert result.returncode != 0
    for rule in ("DL3006", "DL3013", "DL3042", "DL3025"):
        assert rule in result.stdout, result.stdout
