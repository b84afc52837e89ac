"""Rule 2: secrets reach Cloud Run containers only as Secret Manager references, never as plain env.

A pure function like the other rules (``rules.py``): resource inputs in, violation messages out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from .resources import WORKER_POOL, containers, display_name, get_optional, get_sequence, has_key

# Words that mark a variable as holding a credential, matched anywhere in the upper-cased name
# (so API_KEYS, APIKEY, DB_PASSWORD and GITHUB_TOKEN all match).
SECRET_NAME_WORDS = (
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "KEY",
    "CREDENTIAL",
    "AUTH_STRING",
)
# Connection URLs that carry the Redis AUTH string on this stack whatever their exact value.
SECRET_NAMES = frozenset(
    {
        "REDIS_URL",
        "BROKER_URL",
        "CELERY_BROKER_URL",
        "RESULT_BACKEND_URL",
        "CELERY_RESULT_BACKEND",
    }
)
# Last name segments that describe a secret without being one: where it is mounted
# (API_KEYS_FILE, GOOGLE_APPLICATION_CREDENTIALS_PATH), which one to use (KMS_KEY_NAME,
# ACCESS_KEY_ID, SECRET_VERSION) or how it behaves (TOKEN_TTL_SECONDS, KEY_PREFIX).
# Their values are still checked for credentials embedded in a URL.
NON_SECRET_SUFFIXES = frozenset(
    {
        "FILE",
        "PATH",
        "DIR",
        "NAME",
        "ID",
        "VERSION",
        "PREFIX",
        "TTL",
        "SECONDS",
        "HEADER",
        "ENABLED",
    }
)
# scheme://user:pass@host or scheme://:pass@host (the form Redis AUTH URLs take).
URL_WITH_CREDENTIALS = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]*:[^/@\s]+@")


def secret_looking_name(env_name: str) -> bool:
    upper = env_name.upper()
    if upper in SECRET_NAMES:
        return True
    if upper.rsplit("_", 1)[-1] in NON_SECRET_SUFFIXES:
        return False
    return any(word in upper for word in SECRET_NAME_WORDS)


def check_env_secrets(
    name: str, resource_type: str, props: Mapping[str, Any]
) -> list[str]:
    """Credentials reach containers only through ``valueSource.secretKeyRef``."""
    kind = "worker pool" if resource_type == WORKER_POOL else "service"
    problems: list[str] = []
    for container in containers(f"Cloud Run {kind} {display_name(name, props)}", props):
        for env in get_sequence(container.props, "envs"):
            if not isinstance(env, Mapping) or not has_key(env, "value"):
                continue
            env_name = str(get_optional(env, "name") or "")
            fix = f"store it in Secret Manager and set envs[name={env_name}].value_source.secret_key_ref"
            try:
                value = env["value"]
            except UnknownValueError:
                # Computed during preview: a plain value all the same, so judge it by its name.
                if secret_looking_name(env_name):
                    problems.append(
                        f"{container.label} sets {env_name} as a plain value; {fix}."
                    )
                continue
            if not isinstance(value, str) or value == "":
                continue
            if secret_looking_name(env_name):
                problems.append(
                    f"{container.label} sets {env_name} as a plain value; {fix}."
                )
            elif URL_WITH_CREDENTIALS.search(value):
                problems.append(
                    f"{container.label} sets {env_name} to a URL with embedded credentials; {fix}."
                )
    return problems


__all__ = ["check_env_secrets", "secret_looking_name"]
