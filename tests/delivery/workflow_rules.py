"""Rules every GitHub workflow here must keep, as functions that return the violations found.

Kept apart from the tests so each rule can also be shown failing on a bad workflow.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
# A released version tag (v5, v2.1.0) or a full commit SHA.
PINNED_REF = re.compile(r"^(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")
PR_HEAD = re.compile(r"github\.event\.pull_request\.head|github\.head_ref|refs/pull/")


def load(path: Path) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text())
    return document


def triggers(workflow: dict[Any, Any]) -> set[str]:
    # PyYAML reads the bare key `on` as the boolean True.
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on}
    return set(on or ())


def steps(workflow: dict[Any, Any]) -> Iterator[dict[str, Any]]:
    for job in (workflow.get("jobs") or {}).values():
        yield from job.get("steps") or ()


def key_credentials(text: str) -> list[str]:
    """Service-account key JSON in any form: the auth action's input or a key file."""
    return [m.group(0) for m in re.finditer(r"credentials_json|GOOGLE_CREDENTIALS|service_account_key", text)]


def unpinned_actions(workflow: dict[Any, Any]) -> list[str]:
    found = []
    for step in steps(workflow):
        uses = step.get("uses")
        if not uses or uses.startswith("./"):
            continue
        if uses.startswith("docker://"):
            if ":" not in uses.removeprefix("docker://") or uses.endswith((":latest", ":main")):
                found.append(uses)
            continue
        _, _, ref = uses.partition("@")
        if not PINNED_REF.match(ref):
            found.append(uses)
    return found


def pull_request_target_checkouts(workflow: dict[Any, Any]) -> list[str]:
    """Steps of a pull_request_target workflow that check out the PR's own code."""
    if "pull_request_target" not in triggers(workflow):
        return []
    found = []
    for step in steps(workflow):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            ref = str((step.get("with") or {}).get("ref", ""))
            if PR_HEAD.search(ref):
                found.append(f"actions/checkout with ref {ref}")
        run = str(step.get("run", ""))
        if re.search(r"gh pr checkout|git (fetch|checkout)", run) and PR_HEAD.search(run) or "gh pr checkout" in run:
            found.append(f"run: {run.strip()}")
    return found
