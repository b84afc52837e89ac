"""A container podman started for a test: its state, output, and stop as Cloud Run stops it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.podman import Podman


@dataclass
class Container:
    podman: Podman
    name: str

    def inspect(self, template: str) -> str:
        return self.podman.run("inspect", "--format", template, self.name).stdout.strip()

    @property
    def running(self) -> bool:
        return self.inspect("{{.State.Running}}") == "true"

    @property
    def exit_code(self) -> int:
        return int(self.inspect("{{.State.ExitCode}}"))

    def exec(self, *command: str) -> str:
        return self.podman.run("exec", self.name, *command).stdout

    def logs(self) -> str:
        result = self.podman.run("logs", self.name, check=False)
        return (result.stdout + result.stderr)[-8000:]

    def stop(self, grace_seconds: int = 10) -> float:
        """``podman stop -t``: SIGTERM, then SIGKILL after the grace period. Returns seconds taken."""
        started = time.monotonic()
        self.podman.run("stop", "--time", str(grace_seconds), self.name, timeout=grace_seconds + 60)
        return time.monotonic() - started

    def remove(self) -> None:
        """Kill at once and remove: for teardown, where a graceful stop only costs time."""
        self.podman.run("rm", "--force", "--time", "0", "--ignore", self.name, check=False)
