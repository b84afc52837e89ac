"""The policy pack's virtualenv and the test virtualenv install the same pinned versions."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\[\]-]+)==(\S+)$")


def pins(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_every_policy_pin_is_what_the_tests_install() -> None:
    tested = pins(ROOT / "requirements-test.txt") | pins(ROOT / "requirements.txt")
    policy = pins(ROOT / "policy" / "requirements.txt")
    assert policy
    assert {name: tested.get(name) for name in policy} == policy


def test_policy_pack_installs_the_shared_facts_from_its_own_folder() -> None:
    # Pulumi installs a policy pack's requirements with the pack folder as working directory.
    lines = (ROOT / "policy" / "requirements.txt").read_text().splitlines()
    paths = [line.split()[-1] for line in lines if line.startswith("-e ")]
    assert paths == ["../services/shared"]
    assert ((ROOT / "policy" / paths[0]) / "task_contract" / "deployment.py").is_file()
