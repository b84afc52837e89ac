"""Run the real ``bootstrap/`` program under Pulumi mocks, as the language host runs it (cwd =
bootstrap/, entry point "."), and return what it declared and exported.

The same steps as ``tests/infra/harness.py`` with a smaller recorder: type, name and inputs are
all these tests need.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi import Output
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.mocks import MockCallArgs, MockEngine, MockMonitor, MockResourceArgs, Mocks, MockSettings
from pulumi.runtime.stack import run_in_stack

BOOTSTRAP_DIR = Path(__file__).resolve().parents[2] / "bootstrap"
PROJECT = "cloudrun-celery-bootstrap"
PROJECT_NUMBER = "123456789012"


@dataclass(frozen=True)
class Declared:
    type_: str
    name: str
    inputs: dict[str, Any]


@dataclass(frozen=True)
class BootstrapRun:
    resources: list[Declared]
    exports: dict[str, Any]

    def of_type(self, type_: str) -> list[Declared]:
        return [r for r in self.resources if r.type_ == type_]

    def one(self, type_: str) -> Declared:
        (match,) = self.of_type(type_)
        return match


class _BootstrapMocks(Mocks):
    def __init__(self, project: str) -> None:
        self.project = project
        self.declared: list[Declared] = []

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.declared.append(Declared(args.typ, args.name, dict(args.inputs)))
        outputs = dict(args.inputs)
        if args.typ == "gcp:serviceaccount/account:Account":
            email = f"{args.inputs['accountId']}@{self.project}.iam.gserviceaccount.com"
            outputs.update(email=email, member=f"serviceAccount:{email}",
                           name=f"projects/{self.project}/serviceAccounts/{email}")
        elif args.typ == "gcp:iam/workloadIdentityPool:WorkloadIdentityPool":
            outputs["name"] = (f"projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/"
                               f"{args.inputs['workloadIdentityPoolId']}")
        elif args.typ == "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":
            outputs["name"] = (f"projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/"
                               f"{args.inputs['workloadIdentityPoolId']}/providers/"
                               f"{args.inputs['workloadIdentityPoolProviderId']}")
        return f"{args.name}-id", outputs

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def run_bootstrap(config: dict[str, Any]) -> BootstrapRun:
    """``config``: full keys (``gcp:project``, ``cloudrun-celery-bootstrap:github``) to YAML-like values."""
    strings = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    return contextvars.Context().run(_run, strings, str(config.get("gcp:project", "mock-project")))


def _run(config: dict[str, str], project: str) -> BootstrapRun:
    mocks = _BootstrapMocks(project)
    monitor = MockMonitor(mocks)
    set_all_config(config, [])
    runtime_settings.configure(
        MockSettings(monitor=monitor, monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
                     engine=MockEngine(None), project=PROJECT, stack="test", dry_run=False,
                     organization=None, callbacks=None)
    )
    for name in ("delivery_settings", "deploy_roles", "github_oidc"):
        sys.modules.pop(name, None)
    # "." was cached as a finder for the directory it was when another program ran (infra/).
    sys.path_importer_cache.pop(".", None)
    previous_cwd = os.getcwd()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    os.chdir(BOOTSTRAP_DIR)
    roots: list[Any] = []

    def program() -> None:
        roots.append(runtime_settings.get_root_resource())
        runpy.run_path(".", run_name="__main__")

    try:
        loop.run_until_complete(run_in_stack(program))
        outputs = dict(getattr(roots[0], "outputs", {}) or {})
        exports = loop.run_until_complete(Output.from_input(outputs).future()) or {}
    finally:
        sys.path_importer_cache.pop(".", None)  # nor leave ours for the next program run here
        os.chdir(previous_cwd)
        loop.close()
        asyncio.set_event_loop(None)
    return BootstrapRun(resources=list(mocks.declared), exports=dict(exports))
