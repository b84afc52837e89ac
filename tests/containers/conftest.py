"""Fixtures for the container tests: podman, the local base image and the two service images.

Setup installs what is missing (podman, runc, debootstrap through apt) and fails the tests with
the reason when it cannot: the container tests never skip.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from tests.support.podman import BASE_IMAGE, SERVICES_DIR, Podman, PodmanError

API_IMAGE = "localhost/cloudrun-celery-api:test"
WORKER_IMAGE = "localhost/cloudrun-celery-worker:test"
# Never in the build context (services/.dockerignore), so they do not decide whether to rebuild.
CACHE_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".venv"}


@pytest.fixture(scope="session")
def podman(pytestconfig: pytest.Config) -> Podman:
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def progress(message: str) -> None:
        # Slow steps (apt, debootstrap, image builds) say what they are doing even under capture.
        if capture is None:  # -p no:capture
            print(f"[podman] {message}", file=sys.stderr, flush=True)
            return
        with capture.global_and_fixture_disabled():
            print(f"\n[podman] {message}", file=sys.stderr, flush=True)

    try:
        return Podman(progress=progress).setup()
    except (PodmanError, RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"the container tests need podman and could not set it up: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def images(podman: Podman) -> dict[str, str]:
    """Both service images (their IDs), built from the local base the way docs/images.md describes."""
    return build_images(podman, {"api": API_IMAGE, "worker": WORKER_IMAGE})


def build_images(podman: Podman, tags: dict[str, str]) -> dict[str, str]:
    """The api and worker images under ``tags`` (tests/kubernetes uses tags of its own), by ID.

    Each pytest-xdist worker that needs them asks: under the build lock the first one builds, and
    the others (and later runs, if services/ has not changed) reuse its images.
    """
    try:
        with podman.exclusive():
            return _build_images(podman, tags)
    except (PodmanError, OSError) as exc:
        pytest.fail(f"building the images failed: {exc}", pytrace=False)


def _build_images(podman: Podman, tags: dict[str, str]) -> dict[str, str]:
    """Build both images, unless this very build context was built before and its images exist."""
    base = podman.ensure_base_image(BASE_IMAGE)
    stamp = podman.cache_dir / "built" / f"{_build_key(podman.image_id(base), tags)}.json"
    if stamp.is_file():
        built: dict[str, str] = json.loads(stamp.read_text())
        if all(podman.image_exists(image) for image in built.values()):
            podman.progress(f"images of this build context already built: {built}")
            return built
    built = {
        service: podman.build(
            SERVICES_DIR / "Dockerfile",
            tag,
            build_args={"BASE_IMAGE": base, "SERVICE": service},
            target=service,
        )
        for service, tag in tags.items()
    }
    podman.prune_stale_images()
    stamp.parent.mkdir(exist_ok=True)
    stamp.write_text(json.dumps(built))
    return built


def _build_key(base_id: str, tags: dict[str, str]) -> str:
    """A digest of everything a build reads: the base image, the tags, and every file under services/."""
    digest = hashlib.sha256(f"{base_id}|{json.dumps(tags, sort_keys=True)}".encode())
    for path in sorted(SERVICES_DIR.rglob("*")):
        if path.is_file() and not CACHE_DIRS.intersection(path.relative_to(SERVICES_DIR).parts):
            digest.update(str(path.relative_to(SERVICES_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]
