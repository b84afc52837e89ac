"""The bootstrap stack's config, validated before any resource is declared.

Values end up inside a CEL expression (the provider's ``attribute_condition``) and in IAM
principal names, so each one is checked against a strict pattern: a quote in a repository name
must be an error, not a widened condition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pulumi

REPOSITORY = re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")
ENVIRONMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# A full git ref, optionally ending in one `*` (prefix match: release tags).
REF = re.compile(r"^refs/(heads|tags)/[A-Za-z0-9._/-]*\*?$")
# Workload Identity pool and provider ids: 4-32 chars, lower case, digits, hyphens.
POOL_ID = re.compile(r"^[a-z0-9-]{4,32}$")
# gcp- is reserved by Google for pool and provider ids.
RESERVED_PREFIX = "gcp-"


class InvalidBootstrapConfig(ValueError):
    """Every problem in the bootstrap config, one per line, each naming the key and the fix."""


@dataclass(frozen=True)
class DeployTarget:
    """A GitHub environment allowed to deploy into this project, and the refs it may run from."""

    environment: str
    refs: tuple[str, ...]


@dataclass(frozen=True)
class BootstrapSettings:
    project: str
    repository: str
    deploy: tuple[DeployTarget, ...]
    preview_from_pull_requests: bool
    pool_id: str
    provider_id: str
    state_bucket: bool
    state_bucket_location: str


def _check(pattern: re.Pattern[str], value: Any, key: str, allowed: str, problems: list[str]) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        problems.append(f"{key}: {value!r} is not allowed; expected {allowed}")
        return ""
    return value


def _deploy_targets(raw: Any, problems: list[str]) -> tuple[DeployTarget, ...]:
    key = "cloudrun-celery-bootstrap:github.deploy"
    if not isinstance(raw, list):
        problems.append(f"{key}: expected a list of {{environment, refs}}, got {raw!r}")
        return ()
    targets = []
    for index, entry in enumerate(raw):
        where = f"{key}[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected {{environment: <name>, refs: [refs/heads/main]}}, got {entry!r}")
            continue
        environment = _check(ENVIRONMENT, entry.get("environment"), f"{where}.environment",
                             "a GitHub environment name (letters, digits, _ and -)", problems)
        refs = entry.get("refs")
        if not isinstance(refs, list) or not refs:
            problems.append(f"{where}.refs: list at least one ref, e.g. [refs/heads/main] or [refs/tags/v*]")
            refs = []
        checked = tuple(
            _check(REF, ref, f"{where}.refs", "refs/heads/<branch> or refs/tags/<tag>, optionally ending in *",
                   problems)
            for ref in refs
        )
        targets.append(DeployTarget(environment, checked))
    names = [t.environment for t in targets]
    if len(set(names)) != len(names):
        problems.append(f"{key}: each environment may appear once, got {names}")
    return tuple(targets)


def _identity_pool_id(value: Any, key: str, problems: list[str]) -> str:
    checked = _check(POOL_ID, value, key, "4-32 characters a-z 0-9 -", problems)
    if checked.startswith(RESERVED_PREFIX):
        problems.append(f"{key}: {value!r} starts with the reserved prefix {RESERVED_PREFIX!r}; pick another id")
    return checked


def load_bootstrap_settings() -> BootstrapSettings:
    config = pulumi.Config()
    gcp_config = pulumi.Config("gcp")
    problems: list[str] = []
    github = config.get_object("github") or {}
    identity = config.get_object("workloadIdentity") or {}
    bucket = config.get_object("stateBucket") or {}
    project = gcp_config.get("project")
    if not project:
        problems.append("gcp:project: required; pulumi config set gcp:project <your-project-id>")
    repository = _check(
        REPOSITORY, github.get("repository"), "cloudrun-celery-bootstrap:github.repository",
        "owner/name of the GitHub repository, e.g. my-org/cloudrun-celery", problems,
    )
    deploy = _deploy_targets(github.get("deploy", []), problems)
    preview = github.get("previewFromPullRequests", True)
    if not isinstance(preview, bool):
        problems.append(f"cloudrun-celery-bootstrap:github.previewFromPullRequests: expected true/false, got {preview!r}")
    if not deploy and preview is not True:
        problems.append("cloudrun-celery-bootstrap:github: nothing may use this provider; "
                        "list github.deploy targets or set previewFromPullRequests: true")
    settings = BootstrapSettings(
        project=project or "",
        repository=repository,
        deploy=deploy,
        preview_from_pull_requests=preview is True,
        pool_id=_identity_pool_id(identity.get("poolId", "github"),
                                  "cloudrun-celery-bootstrap:workloadIdentity.poolId", problems),
        provider_id=_identity_pool_id(identity.get("providerId", "github-oidc"),
                                      "cloudrun-celery-bootstrap:workloadIdentity.providerId", problems),
        state_bucket=bucket.get("create", False) is True,
        state_bucket_location=str(bucket.get("location", "EU")),
    )
    if problems:
        raise InvalidBootstrapConfig("invalid bootstrap config:\n" + "\n".join(f"- {p}" for p in problems))
    return settings
