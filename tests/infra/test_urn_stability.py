"""No refactor replaces a live resource: every URN a stack had is still declared, or aliased.

A resource's URN is its identity in the Pulumi state (stack, project, parent types, type, name).
If a move or rename changes it and no ``aliases`` option claims the old URN, the next
``pulumi up`` deletes the old resource and creates a new one: Memorystore (and its backlog),
the secrets and their versions, the services and the service accounts with their grants.

``urn_baseline.yaml`` holds every URN the dev and prod stacks declared when this test was added,
plus any added since. The test fails when one of them is neither declared nor covered by an
alias. New resources are fine; ``REGEN_URNS=1`` adds them to the baseline (it never drops one).
A URN that goes away on purpose (a grant that is no longer wanted) goes under
``removed_on_purpose`` with the reason, so the removal is visible in review.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.harness import ProgramRun

BASELINE = Path(__file__).parent / "urn_baseline.yaml"
HEADER = (
    "# URNs the stacks declare; tests/infra/test_urn_stability.py fails if one disappears\n"
    "# without an alias. REGEN_URNS=1 only adds URNs. To drop one on purpose, move it to\n"
    "# removed_on_purpose with the reason.\n"
)
# Replacing one of these loses data or identity (state, secret versions, grants, URLs).
STATEFUL_TYPES = frozenset(
    {
        "gcp:redis/instance:Instance",
        "gcp:secretmanager/secret:Secret",
        "gcp:secretmanager/secretVersion:SecretVersion",
        "gcp:cloudrunv2/service:Service",
        "gcp:cloudrunv2/workerPool:WorkerPool",
        "gcp:artifactregistry/repository:Repository",
        "gcp:serviceaccount/account:Account",
        "gcp:compute/network:Network",
        "gcp:compute/subnetwork:Subnetwork",
        "gcp:vpcaccess/connector:Connector",
    }
)


def _load() -> dict[str, Any]:
    return yaml.safe_load(BASELINE.read_text()) or {}


def _type_of(urn: str) -> str:
    return urn.split("::")[2].split("$")[-1]


def _lost(run: ProgramRun, baseline: list[str], removed: dict[str, str]) -> list[str]:
    covered = {r.urn for r in run.resources}
    for resource in run.resources:
        covered.update(resource.alias_urns)
    return sorted(set(baseline) - covered - set(removed))


def test_every_baseline_urn_is_declared_or_aliased(stack_run: ProgramRun) -> None:
    assert_urns_stable(stack_run)


def assert_urns_stable(stack_run: ProgramRun) -> None:
    """The check for one stack's run (tests/kubernetes runs it for the gke stack)."""
    document = _load()
    baseline: list[str] = document["stacks"].get(stack_run.stack, [])
    removed: dict[str, str] = document.get("removed_on_purpose") or {}
    if os.environ.get("REGEN_URNS"):
        current = {r.urn for r in stack_run.resources}
        document["stacks"][stack_run.stack] = sorted(set(baseline) | current)
        BASELINE.write_text(HEADER + yaml.safe_dump(document, width=200))
    lost = _lost(stack_run, baseline, removed)
    stateful = [urn for urn in lost if _type_of(urn) in STATEFUL_TYPES]
    assert lost == [], (
        f"{len(lost)} resource(s) of the {stack_run.stack} stack would be deleted and recreated "
        f"by the next `pulumi up` ({len(stateful)} stateful). Keep their name, type and parent, "
        "or add ResourceOptions(aliases=[...]) with the old name/parent; if the removal is "
        "intended, list the URN under removed_on_purpose in tests/infra/urn_baseline.yaml "
        "with the reason:\n  " + "\n  ".join(lost)
    )


def test_removals_say_why() -> None:
    removed = _load().get("removed_on_purpose") or {}
    assert all(isinstance(reason, str) and reason.strip() for reason in removed.values())


def test_baseline_covers_the_stateful_resources(stack_run: ProgramRun) -> None:
    # The baseline is not vacuous: it holds every stateful resource the stack declares today.
    baseline = set(_load()["stacks"][stack_run.stack])
    declared = {r.urn for r in stack_run.resources if r.type_ in STATEFUL_TYPES}
    assert declared and declared <= baseline


@pytest.mark.parametrize("aliased", [False, True])
def test_a_renamed_resource_is_caught_unless_aliased(
    dev: ProgramRun, aliased: bool
) -> None:
    # The check itself: rename Memorystore in a copy of the run and see it flagged, then cover it.
    (broker,) = dev.of_type("gcp:redis/instance:Instance")
    renamed = broker.urn.rsplit("::", 1)[0] + "::broker-renamed"
    moved = [
        r
        if r is not broker
        else replace(r, urn=renamed, alias_urns=(broker.urn,) if aliased else ())
        for r in dev.resources
    ]
    lost = _lost(
        ProgramRun(resources=moved, exports=dev.exports, stack="dev"),
        _load()["stacks"]["dev"],
        {},
    )
    assert lost == ([] if aliased else [broker.urn])
