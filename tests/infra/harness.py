"""Run the real Pulumi program in ``infra/`` under Pulumi mocks, the way the CLI runs it.

Public API (kept stable; the policy-pack tests use it too):

- ``run_program(stack, config_overrides=None, config_path=None) -> list[MockedResource]``
- ``run_program_full(...) -> ProgramRun`` (resources plus resolved stack exports)
- ``stack_config(stack, config_overrides=None, config_path=None) -> (config, secret_keys)``
- ``Secret(value)``: an override value set as a secret
- ``ProgramError``: raised when the program fails; carries the resources declared before the failure.
- ``MockedResource``: one recorded registration (defined with the mocks in ``program_mocks.py``).

How the Python language host runs ``main: infra/`` (pulumi/pulumi, engine ``getPwdMain`` and
``sdk/python/cmd/pulumi-language-python-exec``):

1. The engine sees that ``main`` is a directory, so it sets the working directory (``--pwd``) to
   ``<project root>/infra`` and the entry point to ``"."``.
2. The exec shim calls ``pulumi.runtime.set_all_config(PULUMI_CONFIG, PULUMI_CONFIG_SECRET_KEYS)``,
   where every value is a string (objects and lists arrive as JSON, booleans as ``"true"``),
   then ``pulumi.runtime.configure(Settings(...))``.
3. It does ``os.chdir(pwd)`` and runs
   ``pulumi.runtime.run_in_stack(lambda: runpy.run_path(".", run_name="__main__"))``.
   ``runpy.run_path`` on a directory puts that directory (as ``"."``) at ``sys.path[0]`` while
   ``__main__.py`` runs, so the program's modules import each other as top-level modules
   (``import settings``), and the project root is *not* on ``sys.path``.

This harness does the same three steps, with the mock monitor in place of the engine: cwd is
``infra/``, the entry point is ``"."``, config values are strings, and the program's own modules
are dropped from ``sys.modules`` first so every run starts like a fresh process.
"""

from __future__ import annotations

import asyncio
import json
import contextvars
import os
import runpy
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.mocks import MockEngine, MockSettings
from pulumi.runtime.stack import run_in_stack

from cost.stack_file import config_string
from tests.infra.program_mocks import MockedResource, ProgramMocks, RecordingMonitor

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROGRAM_DIR = PROJECT_ROOT / "infra"
PROJECT_NAME = "cloudrun-celery"


@dataclass(frozen=True)
class ProgramRun:
    resources: list[MockedResource]
    exports: dict[str, Any]
    stack: str = ""

    def of_type(self, type_: str) -> list[MockedResource]:
        return [r for r in self.resources if r.type_ == type_]

    def named(self, type_: str, name: str) -> MockedResource:
        matches = [r for r in self.resources if r.type_ == type_ and r.name == name]
        if len(matches) != 1:
            raise LookupError(
                f"expected one {type_} named {name!r}, found {len(matches)}"
            )
        return matches[0]


class ProgramError(Exception):
    """The program raised. ``resources`` holds what was declared before it did."""

    def __init__(
        self, original: BaseException, resources: list[MockedResource]
    ) -> None:
        super().__init__(str(original))
        self.original = original
        self.resources = resources


@dataclass(frozen=True)
class Secret:
    """An override value passed as a secret, like ``pulumi config set --secret``."""

    value: Any


def stack_config(
    stack: str,
    config_overrides: Mapping[str, Any] | None = None,
    config_path: Path | None = None,
) -> tuple[dict[str, str], list[str]]:
    """Read ``Pulumi.<stack>.yaml`` into the (config, secret_keys) pair the CLI would pass.

    Overrides: a key without ``:`` is in the project namespace; ``None`` removes the key;
    ``Secret(value)`` sets it as a secret; any other value replaces it (objects and lists are
    JSON-encoded, like the CLI does).
    """
    path = (
        config_path
        if config_path is not None
        else PROJECT_ROOT / f"Pulumi.{stack}.yaml"
    )
    document = yaml.safe_load(path.read_text()) or {}
    raw: dict[str, Any] = dict(document.get("config") or {})
    for key, value in (config_overrides or {}).items():
        full_key = key if ":" in key else f"{PROJECT_NAME}:{key}"
        if value is None:
            raw.pop(full_key, None)
        else:
            raw[full_key] = value
    secret_overrides = {
        (k if ":" in k else f"{PROJECT_NAME}:{k}")
        for k, v in (config_overrides or {}).items()
        if isinstance(v, Secret)
    }
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        if key in secret_overrides:
            config[key] = config_string(value.value)
            secret_keys.append(key)
        elif isinstance(value, dict) and set(value) == {"secure"}:
            # Encrypted in the stack file; the CLI would decrypt it. Mocks get a stand-in.
            config[key] = f"mock-secret-for-{key}"
            secret_keys.append(key)
        else:
            config[key] = config_string(value)
    return config, secret_keys


def with_secret_values(
    stack: str,
    config_overrides: Mapping[str, Any] | None,
    config_path: Path | None = None,
) -> dict[str, Any]:
    """The overrides plus stand-in values for ``apiKeys`` and each ``appSecrets`` entry unset."""
    overrides = dict(config_overrides or {})
    config, _ = stack_config(stack, overrides, config_path)
    key = f"{PROJECT_NAME}:"
    if key + "apiKeys" not in config:
        overrides["apiKeys"] = Secret("stand-in-api-key")
    try:
        entries = json.loads(config.get(key + "appSecrets", "[]"))
    except json.JSONDecodeError:
        return overrides  # a malformed value: let the program report it
    if key + "appSecretValues" in config or not isinstance(entries, list):
        return overrides
    names = [e.get("name") if isinstance(e, dict) else e for e in entries]
    values = {n: f"stand-in-{n}" for n in names if isinstance(n, str)}
    if values:
        overrides["appSecretValues"] = Secret(values)
    return overrides


def _is_project_root(entry: str) -> bool:
    return os.path.abspath(entry or os.curdir) == str(PROJECT_ROOT)


def _forget_program_modules() -> None:
    program_dir = str(PROGRAM_DIR)
    for module_name, module in list(sys.modules.items()):
        module_file = getattr(module, "__file__", None)
        if module_file and os.path.abspath(module_file).startswith(
            program_dir + os.sep
        ):
            del sys.modules[module_name]


def run_program_full(
    stack: str,
    config_overrides: Mapping[str, Any] | None = None,
    config_path: Path | None = None,
    preview: bool = False,
    secrets_set: bool = True,
) -> ProgramRun:
    """``secrets_set``: the operator has set every secret value, as the README's first deploy
    says (``pulumi up`` refuses a stack without them): values missing from the stack file and
    the overrides are added as stand-in secrets. ``False`` runs the stack file as it is."""
    if secrets_set:
        config_overrides = with_secret_values(stack, config_overrides, config_path)
    config, secret_keys = stack_config(stack, config_overrides, config_path)
    project = config.get("gcp:project", "mock-project")
    # A fresh context per run, like a fresh process: no root stack, config or settings leak.
    return contextvars.Context().run(_run, stack, config, secret_keys, project, preview)


def run_program(
    stack: str,
    config_overrides: Mapping[str, Any] | None = None,
    config_path: Path | None = None,
) -> list[MockedResource]:
    """Run ``infra/`` for ``stack`` under mocks and return every resource it declared."""
    return run_program_full(stack, config_overrides, config_path).resources


def _run(
    stack: str,
    config: dict[str, str],
    secret_keys: list[str],
    project: str,
    preview: bool,
) -> ProgramRun:
    monitor = RecordingMonitor(ProgramMocks(project))
    set_all_config(config, secret_keys)
    # The CLI's engine turns alias specs into URNs; without the feature the SDK does it with the
    # same rules (parents' aliases included), so the recorded aliases are URNs a test can compare.
    features = set(monitor.GetDeploymentInfo(None).supportedFeatures)
    features.discard(resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS)
    runtime_settings.configure(
        MockSettings(
            monitor=monitor,
            monitor_features=features,
            engine=MockEngine(None),
            project=PROJECT_NAME,
            stack=stack,
            dry_run=preview,
            organization=None,
            callbacks=None,
        )
    )
    _forget_program_modules()
    previous_cwd = os.getcwd()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    os.chdir(PROGRAM_DIR)
    stacks: list[Any] = []

    def program() -> None:
        stacks.append(runtime_settings.get_root_resource())
        # The host's sys.path has no project root (pytest.ini adds it for the tests): drop it,
        # so an import that only works from the root (``from infra import ...``) fails here too.
        saved_path = list(sys.path)
        sys.path[:] = [p for p in sys.path if not _is_project_root(p)]
        try:
            runpy.run_path(".", run_name="__main__")
        finally:
            sys.path[:] = saved_path

    try:
        loop.run_until_complete(run_in_stack(program))
        exports = _resolve_exports(loop, stacks[0])
    except Exception as error:
        raise ProgramError(error, list(monitor.recorded)) from error
    finally:
        os.chdir(previous_cwd)
        loop.close()
        asyncio.set_event_loop(None)
    return ProgramRun(resources=list(monitor.recorded), exports=exports, stack=stack)


def _resolve_exports(loop: asyncio.AbstractEventLoop, root: Any) -> dict[str, Any]:
    from pulumi import Output

    outputs: dict[str, Any] = dict(getattr(root, "outputs", {}) or {})
    resolved = loop.run_until_complete(Output.from_input(outputs).future())
    return dict(resolved or {})
