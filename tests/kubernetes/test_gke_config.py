"""Bad gke settings fail before any resource is declared, naming the relation that is broken."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.harness import ProgramError, run_program_full, stack_config


def gke_with(**fields: Any) -> dict[str, Any]:
    import json

    config, _ = stack_config("gke")
    return {"gke": {**json.loads(config["cloudrun-celery:gke"]), **fields}}


CASES: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "grace shorter than soft shutdown + margin": (
        "gke",
        gke_with(workerGracePeriodSeconds=8, spotWorkerGroups=[]),
        ["gke.workerGracePeriodSeconds: got 8", "soft-shutdown timeout (6 s)", "shutdown margin (4 s)"],
    ),
    "spot with a time limit beyond the notice": (
        "gke",
        {"tasks": {"timeLimitSeconds": 600, "resultTtlSeconds": 86400}},
        ["gke.spotWorkerGroups", "tasks.timeLimitSeconds (600)", "spot pre-emption notice (25 s)"],
    ),
    "spot with a grace period beyond the notice": (
        "gke",
        gke_with(workerGracePeriodSeconds=40),
        ["gke.workerGracePeriodSeconds: got 40", "at most 25 with spot groups"],
    ),
    "spot group that does not exist": ("gke", gke_with(spotWorkerGroups=["nope"]), ["got 'nope'", "fast, bulk"]),
    "gke section on cloud run": ("dev", {"gke": {"namespace": "x"}}, ["gke: got", "unless platform: gke"]),
    "unknown platform": ("dev", {"platform": "eks"}, ["platform: got 'eks'", "cloudrun | gke"]),
    "both a new and an existing cluster": (
        "gke",
        gke_with(existingCluster={"name": "c", "location": "europe-west1"}),
        ["gke.cluster: got", "unset when gke.existingCluster is set"],
    ),
    "flower on gke": ("gke", {"flower": {"enabled": True}}, ["flower.enabled: got true", "false with platform: gke", "kubectl port-forward"]),
    "beat on gke": (
        "gke",
        {"beat": {"enabled": True, "entries": []}},
        ["beat.enabled: got true", "false with platform: gke", "use `schedules`"],
    ),
    "bad release channel": (
        "gke",
        gke_with(cluster={"releaseChannel": "NIGHTLY"}),
        ["gke.cluster.releaseChannel: got 'NIGHTLY'", "RAPID | REGULAR | STABLE"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_gke_config_is_refused_with_the_reason(case: str) -> None:
    stack, overrides, fragments = CASES[case]
    with pytest.raises(ProgramError) as raised:
        run_program_full(stack, overrides)
    assert not raised.value.resources
    for fragment in fragments:
        assert fragment in str(raised.value), f"{fragment!r} not in:\n{raised.value}"


def test_an_existing_cluster_is_used_by_reference() -> None:
    overrides = gke_with(existingCluster={"name": "shared", "location": "europe-west1"})
    overrides["gke"].pop("cluster")
    run = run_program_full("gke", overrides)
    assert not run.of_type("gcp:container/cluster:Cluster")
    (provider,) = run.of_type("pulumi:providers:kubernetes")
    assert '"name": "shared"' in provider.inputs["kubeconfig"]
