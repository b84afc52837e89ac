"""API-key rotation without downtime: the real API reads API_KEYS_FILE again every API_KEYS_RELOAD_SECONDS.

The rotation in docs/api-keys.md: add the new key next to the old one, move clients over,
remove the old one. The test does that to a running process and checks that the new key
never fails and the removed key stops working within the reload interval (+ slack).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.api_process import ApiProcess
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.slow

RELOAD_SECONDS = 0.5
# The stated time: a removed key stops working within API_KEYS_RELOAD_SECONDS (+ a loaded machine's slack).
WITHIN = RELOAD_SECONDS + 2.0


def status(http: httpx.Client, key: str) -> int:
    return http.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers={"Authorization": f"Bearer {key}"}).status_code


def test_a_rotated_keys_file_takes_effect_without_a_restart(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess], tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    keys.write_text("old-key\n")
    api = api_factory(redis_server, API_KEYS="", API_KEYS_FILE=str(keys), API_KEYS_RELOAD_SECONDS=str(RELOAD_SECONDS))
    pid = api.process.pid if api.process else None
    with api.client() as http:
        assert status(http, "old-key") == 202 and status(http, "new-key") == 401

        keys.write_text("old-key\nnew-key\n")  # step 1: both valid
        deadline = time.monotonic() + WITHIN
        while status(http, "new-key") != 202:
            assert time.monotonic() < deadline, "the added key was not accepted in time"
            time.sleep(0.05)
        assert status(http, "old-key") == 202

        keys.write_text("new-key\n")  # step 3: the old key removed
        removed_at = time.monotonic()
        while status(http, "old-key") != 401:
            assert status(http, "new-key") == 202  # no downtime for the new key
            assert time.monotonic() - removed_at < WITHIN, "the removed key still works"
            time.sleep(0.05)

        keys.write_text("# being rewritten\n")  # an empty file never locks everyone out
        time.sleep(RELOAD_SECONDS * 3)
        assert status(http, "new-key") == 202
    assert api.process is not None and api.process.pid == pid
    assert any("API keys not reloaded" in line and "fix API_KEYS_FILE" in line for line in api.log_lines())
