"""Install Debian packages a test needs, or fail loudly. Never skip."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

_lock = threading.Lock()
_apt_updated = False


def ensure_commands(commands: dict[str, str]) -> None:
    """Make sure each command exists, installing its Debian package if not.

    ``commands`` maps a command name to the package that provides it. Raises
    RuntimeError naming the package when it cannot be installed (for example on
    a laptop without root, where the fix is to install it yourself).
    """
    global _apt_updated
    missing = {cmd: pkg for cmd, pkg in commands.items() if shutil.which(cmd) is None}
    if not missing:
        return
    packages = sorted(set(missing.values()))
    with _lock:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise RuntimeError(
                f"missing {', '.join(missing)}; install {' '.join(packages)} "
                "(Debian: sudo apt-get install -y ...; macOS: brew install ...)"
            )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if not _apt_updated:
            subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdin=subprocess.DEVNULL)
            _apt_updated = True
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
            check=True,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    still = [cmd for cmd in missing if shutil.which(cmd) is None]
    if still:
        raise RuntimeError(f"installed {' '.join(packages)} but {', '.join(still)} is still not on PATH")
