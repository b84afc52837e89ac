"""End-to-end fixtures: a real redis-server, real ``python -m worker`` processes, the real API over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.api_process import ApiProcess, api_factory_fixture


@pytest.fixture
def api_factory() -> Iterator[Callable[..., ApiProcess]]:
    """``api_factory(redis, **env)``: a real ``python -m api`` subprocess, healthy, stopped at teardown."""
    yield from api_factory_fixture()
