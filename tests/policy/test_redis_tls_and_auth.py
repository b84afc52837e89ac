"""Rule 3: Memorystore Redis has AUTH and in-transit encryption on."""

from __future__ import annotations

from policy.cloudrun_celery_policy.policies import redis_tls_and_auth
from policy.cloudrun_celery_policy.resources import REDIS_INSTANCE
from tests.policy.support import redis_instance, validate_resource


def test_auth_and_tls_pass() -> None:
    assert (
        validate_resource(
            redis_tls_and_auth, REDIS_INSTANCE, redis_instance(), name="broker"
        )
        == []
    )


def test_auth_disabled_is_caught() -> None:
    assert validate_resource(
        redis_tls_and_auth,
        REDIS_INSTANCE,
        redis_instance(authEnabled=False),
        name="broker",
    ) == [
        "Redis instance 'broker' has AUTH disabled (authEnabled=False); set auth_enabled=True."
    ]


def test_tls_disabled_is_caught() -> None:
    props = redis_instance(transitEncryptionMode="DISABLED")
    assert validate_resource(
        redis_tls_and_auth, REDIS_INSTANCE, props, name="broker"
    ) == [
        (
            "Redis instance 'broker' has transitEncryptionMode=DISABLED; "
            "set transit_encryption_mode='SERVER_AUTHENTICATION'."
        )
    ]


def test_provider_defaults_are_both_off_and_both_caught() -> None:
    props = redis_instance()
    del props["authEnabled"], props["transitEncryptionMode"]
    violations = validate_resource(
        redis_tls_and_auth, REDIS_INSTANCE, props, name="broker"
    )
    assert len(violations) == 2
    assert "authEnabled=unset, default false" in violations[0]
    assert "DISABLED (default)" in violations[1]
