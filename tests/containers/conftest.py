"""Fixtures for the container tests: podman, the local base image and the two service images.

Setup installs what is missing (podman, runc, debootstrap through apt) and fails the tests with
the reason when it cannot: the container tests never skip.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.podman import BASE_IMAGE, SERVICES_DIR, Podman, PodmanError

API_IMAGE = "localhost/cloudrun-celery-api:test"
WORKER_IMAGE = "localhost/cloudrun-celery-worker:test"


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
    """Both service images, built from the local base the way docs/images.md describes."""
    return build_images(podman, {"api": API_IMAGE, "worker": WORKER_IMAGE})


def build_images(podman: Podman, tags: dict[str, str]) -> dict[str, str]:
    """Build the api and worker images under ``tags`` (tests/kubernetes uses tags of its own)."""
    try:
        base = podman.ensure_base_image(BASE_IMAGE)
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
        return built
    except (PodmanError, OSError) as exc:
        pytest.fail(f"building the images failed: {exc}", pytrace=False)

