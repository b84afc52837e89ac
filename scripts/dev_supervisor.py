"""`make dev`'s supervisor: honcho's, except that Redis stops last.

honcho stops every process at once (on Ctrl-C, SIGTERM, or when one exits) and signals each
process group, so Redis went down while the worker's soft shutdown still talked to it, and the
worker's consumer processes, signalled twice (by the group signal and by their supervisor), hung
until they were killed (they now run in their own sessions: docs/runtime-contract.md). Here the stop runs in two stages, each like Cloud Run's stop of a
container (SIGTERM to the process alone, SIGKILL to its whole group ``stop_timeout`` seconds
later, saying so): first the API, the worker and the scheduler, then, once they have all exited,
Redis. A second Ctrl-C (or SIGTERM) during the stop kills everything at once.

It reuses honcho's process start, printer and event queue (honcho is pinned in
requirements-dev.txt); only the loop and the stop differ from ``honcho.manager.Manager``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import time
from types import FrameType
from typing import Any

from honcho.manager import SIGNALS, Manager  # type: ignore[import-untyped]

# Cloud Run SIGKILLs 10 s after SIGTERM (docs/images.md); honcho's own wait is 5 s,
# shorter than the worker's soft shutdown.
STOP_TIMEOUT_SECONDS = 10.0


class DevSupervisor(Manager):  # type: ignore[misc]
    """Runs the Procfile's processes; stops every one but ``last`` first, then ``last``."""

    def __init__(self, last: str = "redis", stop_timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        super().__init__()
        self.last = last
        self.stop_timeout = stop_timeout
        self.stopping = False
        self._sigterm_at: dict[str, float] = {}  # process name -> when it was sent SIGTERM
        self._killed: set[str] = set()

    def loop(self) -> None:
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            if self.stopping:
                self._kill_all(f"{SIGNALS[signum]['name']} received again")
                return
            self._system_print(f"{SIGNALS[signum]['name']} received (press Ctrl-C again to kill everything now)\n")
            self.returncode = SIGNALS[signum]["rc"]
            self.terminate()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self._start()
        while not (self._all_started() and self._all_stopped()):
            self._handle_next()
            if self._all_started() and self._any_stopped():
                self.terminate()  # one process exited on its own: stop the others, as honcho does
            if self.stopping:
                self._advance_stop()
        # The last lines the processes printed before they exited.
        while self._handle_next():
            pass

    def terminate(self) -> None:
        self.stopping = True

    def _kill_all(self, why: str) -> None:
        """A second Ctrl-C: SIGKILL every running process group now, Redis too, without waiting."""
        self._system_print(f"{why}: killing everything now (SIGKILL)\n")
        for name in self._running():
            pid = self._processes[name].get("pid")
            if pid is not None and name not in self._killed:
                self._procmgr.kill(pid)
                self._killed.add(name)

    def _handle_next(self) -> bool:
        """Handles the next event (a line, a start, a stop); False if none came within 0.1 s."""
        try:
            message = self.events.get(timeout=0.1)
        except queue.Empty:
            return False
        self._handle(message)
        return True

    def _handle(self, message: Any) -> None:
        entry = self._processes.get(message.name)
        if message.type == "line":
            self._printer.write(message)
        elif message.type == "start" and entry is not None:
            entry["pid"] = message.data["pid"]
            self._system_print(f"{message.name} started (pid={entry['pid']})\n")
        elif message.type == "stop" and entry is not None:
            entry["returncode"] = message.data["returncode"]
            self._system_print(f"{message.name} stopped (rc={entry['returncode']})\n")
            if self.returncode is None:
                self.returncode = entry["returncode"]

    def _is_last(self, name: str) -> bool:
        # honcho names a Procfile entry's processes "<entry>.<n>".
        return name.split(".")[0] == self.last

    def _running(self) -> list[str]:
        return [name for name, entry in self._processes.items() if "returncode" not in entry]

    def _advance_stop(self) -> None:
        running = self._running()
        stage = [name for name in running if not self._is_last(name)] or running
        now = time.monotonic()
        for name in stage:
            pid = self._processes[name].get("pid")
            if pid is None:
                continue  # not started yet: signalled once honcho reports its pid
            if name not in self._sigterm_at:
                self._system_print(f"sending SIGTERM to {name} (pid {pid})\n")
                # To the process alone, as Cloud Run signals PID 1 alone (module docstring).
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                self._sigterm_at[name] = now
            elif now - self._sigterm_at[name] > self.stop_timeout and name not in self._killed:
                waiting = "" if self._is_last(name) else f"; {self.last} stops once it has exited"
                self._system_print(
                    f"{name} still running {self.stop_timeout:.0f} s after SIGTERM: killing it "
                    f"(SIGKILL, pid {pid}){waiting}\n"
                )
                self._procmgr.kill(pid)  # the whole process group, as Cloud Run stops the container
                self._killed.add(name)
