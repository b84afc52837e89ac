"""One mocked run of the gke stack, shared by the session."""

from __future__ import annotations

import pytest

from tests.infra.harness import ProgramRun, run_program_full


@pytest.fixture(scope="session")
def gke() -> ProgramRun:
    return run_program_full("gke")


# The Cloud Run stacks' runs, to show they declare nothing of the Kubernetes target.
from tests.infra.conftest import dev, prod  # noqa: E402,F401
# The container tests' podman setup and image build, reused by the kube play test.
from tests.containers.conftest import images, podman  # noqa: E402,F401
