"""`make dev`'s banner says what Ctrl-C stops: Redis only when make dev started it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_dev_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "scripts" / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_banner_says_redis_stops_last_when_make_dev_started_it(monkeypatch: pytest.MonkeyPatch) -> None:
    dev = load_dev_script()
    monkeypatch.delenv("REDIS_URL", raising=False)
    _, names = dev.dev_environment()
    text = dev.banner("http://127.0.0.1:8000", "dev-key", own_redis="redis" in names)
    assert "scheduler, then Redis." in text


def test_banner_leaves_a_redis_from_redis_url_running(monkeypatch: pytest.MonkeyPatch) -> None:
    dev = load_dev_script()
    monkeypatch.setenv("REDIS_URL", "redis://:secret@127.0.0.1:6390/0")
    _, names = dev.dev_environment()
    assert "redis" not in names
    text = dev.banner("http://127.0.0.1:8000", "dev-key", own_redis="redis" in names)
    assert "then Redis" not in text
    assert "leaves the Redis at REDIS_URL running" in text
