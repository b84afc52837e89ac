"""The README's first deploy succeeds as written, and `pulumi up` without secret values stops early.

Cloud Run refuses a revision that references a secret with no version. Without a value in config
the program would create the API-keys (or an app) secret with no version and every service would
then fail to deploy, half-way through ``pulumi up``. So ``up`` refuses before declaring anything,
naming each missing value and the exact command that sets it; ``preview`` still runs and warns.
"""

from __future__ import annotations

import logging
import re

import pytest

from tests.infra.harness import (
    PROJECT_ROOT,
    ProgramError,
    Secret,
    run_program_full,
)

API_KEYS_COMMAND = "pulumi config set --secret cloudrun-celery:apiKeys 'key-one,key-two'"
APP_SECRET_COMMAND = (
    "pulumi config set --secret --path "
    "'cloudrun-celery:appSecretValues.webhook-signing-key' '<value>'"
)


def test_up_without_api_keys_stops_before_any_resource() -> None:
    with pytest.raises(ProgramError) as failure:
        run_program_full("dev", secrets_set=False)
    assert type(failure.value.original).__name__ == "InvalidConfig"
    assert API_KEYS_COMMAND in str(failure.value)
    assert "Cloud Run refuses a revision whose secret has no version" in str(failure.value)
    assert failure.value.resources == []


def test_up_lists_every_missing_value_with_its_command() -> None:
    with pytest.raises(ProgramError) as failure:
        run_program_full("prod", secrets_set=False)
    message = str(failure.value)
    assert API_KEYS_COMMAND in message
    assert APP_SECRET_COMMAND in message


def test_preview_still_runs_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        run = run_program_full("prod", preview=True, secrets_set=False)
    assert run.of_type("gcp:cloudrunv2/service:Service")
    warnings = "\n".join(r.getMessage() for r in caplog.records)
    assert API_KEYS_COMMAND in warnings
    assert APP_SECRET_COMMAND in warnings


def test_up_succeeds_once_the_values_are_set() -> None:
    run = run_program_full(
        "prod",
        {
            "apiKeys": Secret("key-one,key-two"),
            "appSecretValues": Secret({"webhook-signing-key": "whsec"}),
        },
        secrets_set=False,
    )
    versions = {r.name for r in run.of_type("gcp:secretmanager/secretVersion:SecretVersion")}
    assert {"api-keys", "app-webhook-signing-key"} <= versions


def _first_deploy_commands() -> list[str]:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("## Deploy to Google Cloud", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"<!-- first-deploy -->\n```sh\n(.*?)```", section, re.S)
    assert block, "the README's first-deploy commands"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_sets_the_api_keys_before_pulumi_up() -> None:
    commands = _first_deploy_commands()
    set_keys = next(i for i, c in enumerate(commands) if "cloudrun-celery:apiKeys" in c)
    up = next(i for i, c in enumerate(commands) if re.search(r"\bpulumi up\b", c))
    assert set_keys < up, commands
