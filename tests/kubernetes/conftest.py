"""One mocked run of the gke stack, shared by the session."""

from __future__ import annotations

import pytest

from tests.infra.harness import ProgramRun, run_program_full


@pytest.fixture(scope="session")
def gke() -> ProgramRun:
    return run_program_full("gke")


# The Cloud Run stacks' runs, to show they declare nothing of the Kubernetes target.
from tests.infra.conftest import dev, prod  # noqa: E402,F401
# The container tests' podman setup, reused by the kube play test.
from tests.containers.conftest import build_images, podman  # noqa: E402,F401
from tests.support.podman import Podman  # noqa: E402

# Tags of their own: the container tests build and run the same images on this machine.
KUBE_IMAGES = {"api": "localhost/cloudrun-celery-api:kube-test", "worker": "localhost/cloudrun-celery-worker:kube-test"}


@pytest.fixture(scope="session")
def images(podman: Podman) -> dict[str, str]:  # noqa: F811  (the fixture, by name)
    return build_images(podman, KUBE_IMAGES)
