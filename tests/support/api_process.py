"""The API as a real subprocess: ``python -m api`` on a free port, as the container runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.ports import free_port, wait_until


@dataclass
class ApiProcess:
    """``start()`` waits for /healthz; ``stop()`` sends SIGTERM (like Cloud Run) and waits for exit.

    ``env`` is added to the current environment (REDIS_URL, API_KEYS, ...); stdout and
    stderr (the JSON log lines) go to ``log_path``, read them with ``log_lines()``.
    """

    env: dict[str, str] = field(default_factory=dict)
    api_key: str = "test-api-key"
    port: int = field(default_factory=free_port)
    log_path: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="api-", suffix=".log")[1]))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def client(self, timeout: float = 5.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def start(self, timeout: float = 20.0) -> ApiProcess:
        env = {**os.environ, "API_KEYS": self.api_key, "PYTHONUNBUFFERED": "1", **self.env, "PORT": str(self.port)}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api"], env=env, stdout=log, stderr=subprocess.STDOUT
            )

        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"API exited with {self.process.returncode}:\n{self.log_text()}")
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200

        try:
            wait_until(healthy, timeout, f"API /healthz on port {self.port}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log_text()}") from None
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
