"""The committed golden inventories match what the program declares for each stack."""

from __future__ import annotations

import difflib
import os

import pytest

from tests.infra import inventory
from tests.infra.harness import ProgramRun

REGENERATE = os.environ.get("REGEN_INVENTORY") == "1"


def test_inventory_matches_golden_file(stack_run: ProgramRun) -> None:
    path = inventory.path_for(stack_run.stack)
    actual = inventory.render(stack_run)
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        pytest.skip(f"regenerated {path.name}")
    assert path.exists(), (
        f"{path} is missing: run REGEN_INVENTORY=1 python -m pytest {__file__}"
    )
    expected = path.read_text()
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"committed {path.name}",
                tofile="program now",
            )
        )
        pytest.fail(
            f"{path.name} differs from what the program declares. If the change is intended, "
            f"regenerate with REGEN_INVENTORY=1 and commit the diff:\n{diff}"
        )


def test_inventory_lists_every_resource_once(stack_run: ProgramRun) -> None:
    urns = [r.urn for r in stack_run.resources]
    duplicates = sorted({u for u in urns if urns.count(u) > 1})
    assert not duplicates, f"the engine would reject duplicate URNs: {duplicates}"
    document = inventory.build(stack_run)
    assert len(document["resources"]) == len(stack_run.resources)
