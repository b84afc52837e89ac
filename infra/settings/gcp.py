"""``gcp:project`` and ``gcp:region``: the Google provider's keys, which this program requires."""

from __future__ import annotations

import re

from pulumi.runtime import config as runtime_config

from .reader import ConfigReader

PROJECT_ID_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")


def read_project(reader: ConfigReader) -> str:
    return _gcp_setting(
        reader,
        "gcp:project",
        PROJECT_ID_RE,
        "a GCP project id (6-30 chars, a-z 0-9 -)",
        "your GCP project id: pulumi config set gcp:project <id>",
    )


def read_region(reader: ConfigReader) -> str:
    return _gcp_setting(
        reader,
        "gcp:region",
        REGION_RE,
        "a GCP region such as europe-west1",
        "a GCP region: pulumi config set gcp:region europe-west1",
    )


def _gcp_setting(
    reader: ConfigReader,
    key: str,
    pattern: re.Pattern[str],
    allowed: str,
    missing: str,
) -> str:
    """``gcp:project`` / ``gcp:region``: the provider's keys, required by this program."""
    value = runtime_config.get_config(key)
    checked = reader.text(key, value, "", pattern, allowed)
    if value is None:
        reader.fail(key, None, missing)
    return checked
