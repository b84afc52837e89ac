"""Rule 4: container images are pinned by digest."""

from __future__ import annotations

import pytest

from policy.cloudrun_celery_policy.policies import images_pinned_by_digest
from policy.cloudrun_celery_policy.resources import SERVICE, WORKER_POOL
from tests.policy.support import (
    DIGEST,
    REPO,
    container,
    validate_resource,
    worker_pool,
    worker_service,
)


def _with_images(*images: str) -> dict[str, object]:
    return worker_service(
        template={"containers": [container(image=image) for image in images]}
    )


@pytest.mark.parametrize(
    "image", [f"{REPO}/worker@{DIGEST}", f"{REPO}/worker:v1.2.3@{DIGEST}"]
)
def test_digest_pinned_image_passes(image: str) -> None:
    assert (
        validate_resource(
            images_pinned_by_digest, SERVICE, _with_images(image), name="worker"
        )
        == []
    )


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        (f"{REPO}/worker:latest", "uses the mutable :latest tag"),
        (f"{REPO}/worker", "has neither tag nor digest, so it means :latest"),
        ("localhost:5000/worker", "has neither tag nor digest, so it means :latest"),
        (
            f"{REPO}/worker:v1.2.3",
            "is pinned only by the tag :v1.2.3, which can be moved",
        ),
        (
            f"{REPO}/worker@sha256:abc",
            "has a malformed digest (expected @sha256: and 64 hex characters)",
        ),
    ],
)
def test_unpinned_image_is_caught(image: str, problem: str) -> None:
    assert validate_resource(
        images_pinned_by_digest, SERVICE, _with_images(image), name="worker"
    ) == [
        (
            f"Cloud Run service 'worker' (name 'worker-default') container #0 image '{image}' {problem}; "
            "reference it as REPO@sha256:DIGEST (e.g. the built image's repo_digest)."
        )
    ]


def test_every_container_is_checked() -> None:
    props = _with_images(
        f"{REPO}/worker@{DIGEST}", "otel/opentelemetry-collector:latest"
    )
    [violation] = validate_resource(
        images_pinned_by_digest, SERVICE, props, name="worker"
    )
    assert "container #1 image 'otel/opentelemetry-collector:latest'" in violation


def test_worker_pool_image_is_checked() -> None:
    props = worker_pool(
        template={"containers": [container(image=f"{REPO}/worker:latest")]}
    )
    [violation] = validate_resource(
        images_pinned_by_digest, WORKER_POOL, props, name="pool"
    )
    assert violation.startswith("Cloud Run worker pool 'pool'")
