"""Stack files for the cost tests: the repository's own, changed one key at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cost.stack_file import PROJECT_ROOT

NAMESPACE = "cloudrun-celery"


def changed(stack: str, key: str, **values: Any) -> str:
    """``Pulumi.<stack>.yaml`` with ``values`` merged into the object at ``key`` (``workers[0]`` for a group)."""
    return changed_text((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text(), key, **values)


def changed_text(text: str, key: str, **values: Any) -> str:
    """A stack file's text with ``values`` merged into the object at ``key`` (``None`` removes a key)."""
    document: dict[str, Any] = yaml.safe_load(text)
    config = document["config"]
    if key.startswith("workers["):
        target = config[f"{NAMESPACE}:workers"][int(key[len("workers[") : -1])]
    else:
        target = config.setdefault(f"{NAMESPACE}:{key}", {})
    target.update(values)
    for name in [name for name, value in values.items() if value is None]:
        del target[name]
    return yaml.safe_dump(document, sort_keys=False)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
