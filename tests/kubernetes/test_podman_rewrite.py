"""The podman rewrite changes exactly the listed fields of the rendered Deployments, nothing else."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.infra.inventory import flatten
from tests.kubernetes.podman_rewrite import REWRITES, rewrite_for_podman
from tests.kubernetes.rendered import render

# Flattened paths the rewrite may touch (one pattern per REWRITES entry, same order).
ALLOWED = (
    r"spec\.template\.spec\.terminationGracePeriodSeconds",
    r"spec\.template\.spec\.containers\[0\]\.(readinessProbe|startupProbe|livenessProbe)\..*",
    r"spec\.template\.spec\.securityContext\.(seccompProfile\.type|fsGroup)",
    r"spec\.template\.spec\.containers\[0\]\.env\[[0-9]+\]\.(valueFrom\.secretKeyRef\.(name|key)|value)",
    r"spec\.template\.spec\.volumes\[[0-9]+\]\.(secret\..*|hostPath\..*)",
    r"spec\.template\.spec\.hostNetwork",
    r"spec\.template\.spec\.containers\[0\]\.(env\[[0-9]+\]\.value|ports\[0\]\..*)",
)


def changed_paths(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    a, b = flatten(before), flatten(after)
    return {k for k in a.keys() | b.keys() if a.get(k, object()) != b.get(k, object())}


def test_only_the_listed_fields_change(tmp_path: Path) -> None:
    assert len(ALLOWED) == len(REWRITES)
    images = {"api": "localhost/api:test", "worker": "localhost/worker:test"}
    rendered = render(images, grace_seconds=20, time_limit=60, prefix="k12")
    secrets = {"redis-url": "redis://:pw@127.0.0.1:6379/0", "api-keys": "k"}
    used: set[str] = set()
    for role in ("api", "worker"):
        after = rewrite_for_podman(rendered[role], secrets, tmp_path / role, 18080)
        for path in changed_paths(rendered[role], after):
            matches = [p for p in ALLOWED if re.fullmatch(p, path)]
            assert matches, f"the rewrite changed {path}, which REWRITES does not list"
            used.update(matches)
        env = {e["name"]: e for e in after["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["REDIS_URL"] == {"name": "REDIS_URL", "value": secrets["redis-url"]}
        assert env["PORT"]["value"] == "18080"
    assert used == set(ALLOWED), f"listed but never applied: {set(ALLOWED) - used}"
    # Everything that matters on GKE is still there: the pod runs with the same security and resources.
    worker = rewrite_for_podman(rendered["worker"], secrets, tmp_path / "w", 18081)
    container = worker["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"] == rendered["worker"]["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    assert worker["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
