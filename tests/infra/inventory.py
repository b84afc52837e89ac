"""Golden inventories: what a stack declares, as a readable YAML document.

In the spirit of cloud-foundation-fabric's plan inventories: each resource's type, name, parent,
options and inputs. The committed files change only on purpose, so a PR's diff of
``tests/infra/inventory/<stack>.yaml`` shows exactly what it changes in the deployment.

Regenerate: ``REGEN_INVENTORY=1 python -m pytest tests/infra/test_inventory.py``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from tests.infra.harness import PROJECT_ROOT, ProgramRun

INVENTORY_DIR = Path(__file__).parent / "inventory"
HEADER = (
    "# Golden inventory for the {stack} stack: what `infra/` declares under Pulumi mocks.\n"
    "# Generated; do not edit by hand. Regenerate on purpose with:\n"
    "#   REGEN_INVENTORY=1 python -m pytest tests/infra/test_inventory.py\n"
)


def resource_key(urn: str) -> str:
    """``<parent type>$<type>::<name>``: unique, stable, and readable in a diff."""
    return urn.split("::", 2)[2]


def _normalize(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    if isinstance(value, str):
        return value.replace(str(PROJECT_ROOT), "<project-root>")
    return value


def build(run: ProgramRun) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for resource in sorted(run.resources, key=lambda r: r.urn):
        inputs = {
            key: "[secret]" if key in resource.secret_inputs else _normalize(value)
            for key, value in resource.inputs.items()
        }
        entry: dict[str, Any] = {"type": resource.type_, "inputs": inputs}
        if resource.protect:
            entry["protect"] = True
        resources[resource_key(resource.urn)] = entry
    counts = Counter(r.type_ for r in run.resources if r.custom)
    return {
        "stack": run.stack,
        "counts": dict(sorted(counts.items())),
        "resources": resources,
        "exports": _normalize(run.exports),
    }


def render(run: ProgramRun) -> str:
    body = yaml.safe_dump(
        build(run), sort_keys=True, default_flow_style=False, width=100
    )
    return HEADER.format(stack=run.stack) + body


def path_for(stack: str) -> Path:
    return INVENTORY_DIR / f"{stack}.yaml"


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": [1]}}`` -> ``{"a.b[0]": 1}``: makes 'only this changed' easy to assert."""
    flat: dict[str, Any] = {}
    if isinstance(value, dict) and value:
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            flat.update(flatten(item, f"{prefix}[{index}]"))
    else:
        flat[prefix] = value
    return flat


def changes(
    before: dict[str, Any], after: dict[str, Any]
) -> dict[str, tuple[Any, Any]]:
    old, new = flatten(before), flatten(after)
    return {
        key: (old.get(key), new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    }
