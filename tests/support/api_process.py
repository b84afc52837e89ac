"""The API as a real subprocess: ``python -m api`` on a free port, as the container runs it.

    api = start_api(redis_server)                      # waits for /healthz, API key "test-api-key"
    api = start_api(redis_server, MAX_BODY_BYTES="1024")
    with api.client() as http:
        http.post("/v1/tasks/add", json={"x": 1, "y": 2}, headers=api.auth_headers)
    api.stop()                                         # SIGTERM, as Cloud Run; returns the exit code

or the ``api_factory`` fixture (tests/api/conftest.py, tests/e2e/conftest.py), which cleans up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.ports import free_port
from tests.support.redis_server import RedisServer, broker_env

if TYPE_CHECKING:
    import httpx

REPO = Path(__file__).resolve().parents[2]
# The subprocess finds the API and the contract from the checkout, installed or not.
SOURCE_PATHS = (REPO / "services" / "api", REPO / "services" / "shared")


def _log_file() -> Path:
    fd, path = tempfile.mkstemp(prefix="api-", suffix=".log")
    os.close(fd)
    return Path(path)


# A cold ``python -m api`` (imports, serving processes) under a parallel test run on 2 shared
# cores took over 20 s; the worker's start allows 60 s too.
STARTUP_TIMEOUT_SECONDS = 60.0

@dataclass
class ApiProcess:
    """``start()`` waits for /healthz; ``stop()`` sends SIGTERM (like Cloud Run) and waits for exit.

    ``env`` is added to the current environment (REDIS_URL, API_KEYS, ...); stdout and
    stderr (the JSON log lines) go to ``log_path``, read them with ``log_lines()``.
    """

    env: dict[str, str] = field(default_factory=dict)
    api_key: str = "test-api-key"
    port: int = field(default_factory=free_port)
    log_path: Path = field(default_factory=_log_file)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def client(self, timeout: float = 5.0) -> httpx.Client:
        """An httpx client on the API's base URL (httpx is a test-only dependency)."""
        import httpx

        return httpx.Client(base_url=self.url, timeout=timeout)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                return int(response.status) == 200
        except OSError:  # URLError, connection refused, timeout
            return False

    def start(self, timeout: float = STARTUP_TIMEOUT_SECONDS) -> ApiProcess:
        pythonpath = os.pathsep.join([*map(str, SOURCE_PATHS), os.environ.get("PYTHONPATH", "")])
        env = {
            **os.environ,
            "API_KEYS": self.api_key,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": pythonpath,
            **self.env,
            "PORT": str(self.port),
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api"], env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"API exited with code {self.process.returncode}:\n{self.log_text()}")
            if self.healthy():
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"API not healthy on port {self.port} after {timeout:.0f} s:\n{self.log_text()}")
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` (Cloud Run's 10 s); returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        code = self.process.returncode
        self.process = None
        return code

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_lines(self) -> list[str]:
        return self.log_text().splitlines()

    def cleanup(self) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)


def start_api(redis: RedisServer, timeout: float = STARTUP_TIMEOUT_SECONDS, **env: str) -> ApiProcess:
    """A healthy ``python -m api`` on ``redis``; ``env`` adds or overrides variables."""
    api = ApiProcess(env={**broker_env(redis), **env})
    try:
        api.start(timeout)
    except BaseException:
        api.cleanup()
        raise
    return api


def api_factory_fixture() -> Iterator[Callable[..., ApiProcess]]:
    """Body of an ``api_factory`` fixture: ``api_factory(redis, **env)``; stops what is left at teardown."""
    apis: list[ApiProcess] = []

    def start(redis: RedisServer, timeout: float = STARTUP_TIMEOUT_SECONDS, **env: str) -> ApiProcess:
        api = start_api(redis, timeout, **env)
        apis.append(api)
        return api

    yield start
    for api in apis:
        api.cleanup()
