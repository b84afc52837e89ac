"""Rule 2: credentials reach containers only as Secret Manager references."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy.cloudrun_celery_policy.policies import secrets_from_secret_manager
from policy.cloudrun_celery_policy.resources import SERVICE, WORKER_POOL
from policy.cloudrun_celery_policy.env_secrets import secret_looking_name
from tests.policy.support import (
    UNKNOWN,
    container,
    secret_env,
    validate_resource,
    worker_pool,
    worker_service,
)


def _service_with_env(*envs: dict[str, object]) -> dict[str, object]:
    return worker_service(template={"containers": [container(envs=list(envs))]})


def test_secret_refs_and_plain_settings_pass() -> None:
    props = _service_with_env(
        secret_env("REDIS_URL", "redis-url"),
        secret_env("STRIPE_API_KEY", "stripe-api-key"),
        {"name": "LOG_LEVEL", "value": "INFO"},
        {"name": "API_KEYS_FILE", "value": "/secrets/api-keys/keys"},
        {"name": "REDIS_CA_FILE", "value": "/secrets/redis-ca/ca.pem"},
        {"name": "VISIBILITY_TIMEOUT_SECONDS", "value": "900"},
        {"name": "PUBLIC_DOCS_URL", "value": "https://example.com/docs"},
    )
    assert (
        validate_resource(secrets_from_secret_manager, SERVICE, props, name="worker")
        == []
    )


@pytest.mark.parametrize(
    "env_name",
    [
        "REDIS_URL",
        "DB_PASSWORD",
        "DJANGO_SECRET",
        "GITHUB_TOKEN",
        "API_KEYS",
        "STRIPE_APIKEY",
        "REDIS_AUTH_STRING",
    ],
)
def test_plain_secret_looking_value_is_caught(env_name: str) -> None:
    props = _service_with_env({"name": env_name, "value": "s3cr3t"})
    assert validate_resource(
        secrets_from_secret_manager, SERVICE, props, name="worker"
    ) == [
        (
            f"Cloud Run service 'worker' (name 'worker-default') container #0 sets {env_name} as a plain value; "
            f"store it in Secret Manager and set envs[name={env_name}].value_source.secret_key_ref."
        )
    ]


@pytest.mark.parametrize(
    "url",
    [
        "rediss://:authstring@10.0.0.3:6378/0",
        "postgresql://app:hunter2@db.internal:5432/app",
    ],
)
def test_credentials_in_any_url_are_caught(url: str) -> None:
    props = _service_with_env({"name": "UPSTREAM", "value": url})
    [violation] = validate_resource(
        secrets_from_secret_manager, SERVICE, props, name="worker"
    )
    assert "sets UPSTREAM to a URL with embedded credentials" in violation


def test_exempt_suffix_still_gets_its_value_checked() -> None:
    props = _service_with_env(
        {"name": "TOKEN_ENDPOINT_PATH", "value": "https://u:p@auth.example.com/token"}
    )
    [violation] = validate_resource(
        secrets_from_secret_manager, SERVICE, props, name="worker"
    )
    assert "URL with embedded credentials" in violation


def test_worker_pool_containers_are_checked() -> None:
    props = worker_pool(
        template={
            "containers": [
                container(envs=[{"name": "REDIS_URL", "value": "redis://x"}])
            ]
        }
    )
    [violation] = validate_resource(
        secrets_from_secret_manager, WORKER_POOL, props, name="pool"
    )
    assert violation.startswith(
        "Cloud Run worker pool 'pool' (name 'worker-pool-default') container #0 sets REDIS_URL"
    )


def test_value_computed_during_preview_is_judged_by_name() -> None:
    # During preview a value built from another resource's output is unknown; reading it
    # raises in the engine's proxy. A secret-named plain value is a violation regardless.
    props = _service_with_env(
        {"name": "REDIS_URL", "value": UNKNOWN},
        {"name": "REDIS_HOST", "value": UNKNOWN},
    )
    [violation] = validate_resource(
        secrets_from_secret_manager, SERVICE, props, name="worker"
    )
    assert "sets REDIS_URL as a plain value" in violation


def test_empty_value_is_not_a_leak() -> None:
    props = _service_with_env({"name": "SENTRY_TOKEN", "value": ""})
    assert (
        validate_resource(secrets_from_secret_manager, SERVICE, props, name="worker")
        == []
    )


@pytest.mark.parametrize(
    ("env_name", "secret_looking"),
    [
        ("API_KEYS_FILE", False),
        ("KMS_KEY_NAME", False),
        ("AWS_ACCESS_KEY_ID", False),
        ("TOKEN_TTL_SECONDS", False),
        ("WORKER_QUEUES", False),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("celery_broker_url", True),
        ("PRIVATE_KEY", True),
    ],
)
def test_secret_looking_names(env_name: str, secret_looking: bool) -> None:
    assert secret_looking_name(env_name) is secret_looking


def _contract_env_rows() -> list[tuple[str, str]]:
    """(variable, Cloud Run source) rows of the Environment table in docs/runtime-contract.md."""
    contract = Path(__file__).resolve().parents[2] / "docs" / "runtime-contract.md"
    rows = []
    for line in contract.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and cells[0].endswith("`"):
            rows.append((cells[0].strip("`"), cells[3]))
    return rows


def test_rule_agrees_with_the_runtime_contract() -> None:
    rows = _contract_env_rows()
    plain = [name for name, source in rows if source.startswith("plain env")]
    assert "WORKER_QUEUES" in plain, "the contract's Environment table changed shape"
    assert [name for name in plain if secret_looking_name(name)] == []
    by_reference = [
        name for name, source in rows if source.startswith("Secret Manager reference")
    ]
    assert by_reference and all(secret_looking_name(name) for name in by_reference)
