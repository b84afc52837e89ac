"""``api.rollout``: which API revision serves, and the tag that gives the newest one its own URL.

The deploy workflow sets ``servingRevision`` (it is not meant for the stack file): the last
verified revision while a new one is checked, then the new one once it passed (docs/delivery.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .reader import ConfigReader

ROLLOUT_KEYS = frozenset({"servingRevision", "candidateTag"})
# Cloud Run revision names are DNS labels (<service>-00042-xyz).
REVISION_RE = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
# The tag becomes part of a host name, `<tag>---<service>-<hash>.<region>.run.app`: keep it short.
TAG_RE = re.compile(r"^[a-z]([a-z0-9-]{0,18}[a-z0-9])?$")


@dataclass(frozen=True)
class ApiRolloutSettings:
    serving_revision: str | None
    """The revision that gets all traffic; None: the newest revision does (first deploy)."""
    candidate_tag: str


def read_api_rollout(reader: ConfigReader, value: Any) -> ApiRolloutSettings:
    cfg = reader.object("api.rollout", ROLLOUT_KEYS, value)
    serving = cfg.get("servingRevision")
    if serving is not None:
        serving = reader.text(
            "api.rollout.servingRevision",
            serving,
            "",
            REVISION_RE,
            "a Cloud Run revision name of the API service (e.g. celery-dev-api-00042-xyz)",
        )
    return ApiRolloutSettings(
        serving_revision=serving or None,
        candidate_tag=reader.text(
            "api.rollout.candidateTag",
            cfg.get("candidateTag"),
            "candidate",
            TAG_RE,
            "1-20 chars a-z 0-9 -, starting with a letter",
        ),
    )
