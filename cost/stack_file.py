"""A stack file, read through the Pulumi program's own settings loader.

What is priced is exactly what ``pulumi up`` would deploy: the YAML is handed to Pulumi's config
the way the Python language host does it (every value a string, objects and lists as JSON), and
``load_settings()`` from ``infra/settings`` validates it with the program's own rules and errors.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import importlib
import json
import subprocess
import sys
import re
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import Settings as RuntimeSettings
from pulumi.runtime import configure
from pulumi.runtime.config import set_all_config

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROGRAM_DIR = PROJECT_ROOT / "infra"
PROJECT_NAME = "cloudrun-celery"


class CostInputError(Exception):
    """Bad input from the user: the message names the cause and the fix. Exit code 2."""


def stack_names(root: Path = PROJECT_ROOT) -> list[str]:
    """The Cloud Run stacks: the estimator prices Cloud Run, not GKE (docs/kubernetes.md)."""
    return sorted(
        p.name[len("Pulumi.") : -len(".yaml")]
        for p in root.glob("Pulumi.*.yaml")
        if not re.search(r"^\s*cloudrun-celery:platform:\s*gke\s*$", p.read_text(), re.MULTILINE)
    )


def stack_path(stack: str, root: Path = PROJECT_ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def read_working_tree(stack: str, root: Path = PROJECT_ROOT) -> str:
    path = stack_path(stack, root)
    if not path.is_file():
        known = ", ".join(stack_names(root)) or "none"
        raise CostInputError(
            f"unknown stack {stack!r}: {path.name} does not exist in {root} "
            f"(stacks here: {known}); pass one of them to --stack"
        )
    return path.read_text()


def read_at_ref(stack: str, ref: str, root: Path = PROJECT_ROOT) -> str | None:
    """The stack file as committed at ``ref``; None when the stack did not exist there."""
    verify = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if verify.returncode != 0:
        raise CostInputError(
            f"--base {ref!r} is not a commit in {root}: {verify.stderr.strip() or 'git rev-parse found nothing'}; "
            "pass a branch, tag or commit that exists locally (in CI, fetch it first: "
            "git fetch origin <branch>, or checkout with fetch-depth: 0)"
        )
    shown = subprocess.run(
        ["git", "-C", str(root), "show", f"{verify.stdout.strip()}:{stack_path(stack).name}"],
        capture_output=True,
        text=True,
    )
    return shown.stdout if shown.returncode == 0 else None


def pulumi_config(document_text: str, source: str) -> dict[str, str]:
    """The config the Pulumi CLI would pass for this stack file, less its encrypted values."""
    try:
        document = yaml.safe_load(document_text) or {}
    except yaml.YAMLError as error:
        raise CostInputError(f"{source} is not valid YAML ({error}); fix the file") from error
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise CostInputError(f"{source} has no 'config:' map; a Pulumi stack file starts with 'config:'")
    config: dict[str, str] = {}
    for key, value in (document.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            # Encrypted (apiKeys, appSecretValues): no price depends on a secret's value, and
            # left out, the loader makes no pulumi.Output of it, which would need an event loop.
            continue
        config[key] = config_string(value)
    return config


def config_string(value: Any) -> str:
    """One stack-file value as the CLI passes it: strings as-is, booleans lower-case, the rest JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


def settings_module() -> Any:
    """``infra/settings``, imported as the language host imports it: as the top-level ``settings``.

    That works for settings.py and for a settings/ package alike. infra/ is on sys.path only
    while importing, so its module names (network, registry, ...) shadow nothing afterwards.
    """
    module = sys.modules.get("settings")
    if module is not None and Path(module.__file__ or "").resolve().is_relative_to(PROGRAM_DIR):
        return module
    sys.modules.pop("settings", None)
    sys.path.insert(0, str(PROGRAM_DIR))
    try:
        return importlib.import_module("settings")
    finally:
        sys.path.remove(str(PROGRAM_DIR))


def load_stack_settings(stack: str, document_text: str, source: str) -> Any:
    """Validated ``Settings`` for ``stack`` from the YAML text; CostInputError on invalid config."""
    config = pulumi_config(document_text, source)
    settings = settings_module()

    def load() -> Any:
        # As a preview: encrypted values are left out (no price depends on them), so `pulumi up`'s
        # refusal of missing secret values must not apply, and preview's warnings about them are
        # not the estimator's to print.
        configure(RuntimeSettings(project=PROJECT_NAME, stack=stack, dry_run=True))
        set_all_config(config, [])
        with contextlib.redirect_stderr(io.StringIO()):
            return settings.load_settings()

    try:
        # A fresh context per load: Pulumi keeps stack and config in context variables.
        return contextvars.copy_context().run(load)
    except settings.InvalidConfig as error:
        raise CostInputError(
            f"{source}: {error}\nFix the stack file; the same check fails `pulumi preview`."
        ) from error
