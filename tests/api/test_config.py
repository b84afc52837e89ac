"""ApiSettings: keys from the environment or a mounted file; without keys the API refuses to start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from api.core.config import ApiSettings
from pydantic import ValidationError

from tests.support.api_process import SOURCE_PATHS

SETTINGS_ENV = ("API_KEYS", "API_KEYS_FILE", "IDEMPOTENCY_WINDOW_SECONDS", "MAX_BODY_BYTES", "LOG_LEVEL", "PORT")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)


def test_defaults_match_the_runtime_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEYS", "k")
    settings = ApiSettings()
    assert (settings.idempotency_window_seconds, settings.max_body_bytes, settings.log_level, settings.port) == (
        86_400, 65_536, "INFO", 8080
    )


def test_keys_come_from_api_keys_and_the_mounted_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text("# rotated 2026-01\nfile-key-1\n\n  file-key-2  \nenv-key\nfile-key-3,file-key-4\n")
    monkeypatch.setenv("API_KEYS", "env-key, other-env-key,")
    monkeypatch.setenv("API_KEYS_FILE", str(keys_file))

    assert ApiSettings().bearer_keys() == (
        "env-key", "other-env-key", "file-key-1", "file-key-2", "file-key-3", "file-key-4"
    )


def test_no_keys_is_an_error_that_says_how_to_set_them(tmp_path: Path) -> None:
    empty = tmp_path / "keys"
    empty.write_text("\n# nothing yet\n")
    for kwargs in ({}, {"api_keys": " , "}, {"api_keys_file": empty}):
        with pytest.raises(ValidationError, match="no API keys configured: set API_KEYS=.* or API_KEYS_FILE="):
            ApiSettings(**kwargs)


def test_missing_keys_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"API_KEYS_FILE=.*missing does not exist"):
        ApiSettings(api_keys_file=tmp_path / "missing")


@pytest.mark.parametrize(("name", "value"), [("LOG_LEVEL", "chatty"), ("MAX_BODY_BYTES", "0"), ("PORT", "http")])
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv("API_KEYS", "k")
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        ApiSettings()


def test_the_key_is_not_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEYS", "super-secret-key")
    assert "super-secret-key" not in repr(ApiSettings())


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "no API keys configured: set API_KEYS=key1,key2"),
        ({"API_KEYS": "k", "LOG_LEVEL": "loud"}, "LOG_LEVEL: LOG_LEVEL='loud' is not a log level"),
        ({"API_KEYS": "k", "REDIS_URL": "http://:pw@redis:6379"}, "REDIS_URL must start with redis:// or rediss://"),
    ],
)
def test_the_process_refuses_to_start_and_says_why(env: dict[str, str], expected: str) -> None:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV and k != "REDIS_URL"}
    pythonpath = os.pathsep.join(map(str, SOURCE_PATHS))
    result = subprocess.run(
        [sys.executable, "-m", "api"],
        env={**clean, "PYTHONPATH": pythonpath, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert "cannot start the API: invalid configuration" in result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert "pw@" not in result.stderr
