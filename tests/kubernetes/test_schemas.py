"""Every object the gke stack renders validates: built-ins against the Kubernetes OpenAPI schemas
of the GKE version in config (kubernetes-validate, offline), custom resources against crd_schemas."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.infra.harness import ProgramRun, stack_config
from tests.kubernetes.crd_schemas import BY_KIND

NOT_MANIFESTS = ("kubernetes:helm.sh/v3:Release",)


def kubernetes_version() -> str:
    config, _ = stack_config("gke")
    return f"{json.loads(config['cloudrun-celery:gke'])['kubernetesVersion']}.0"


def manifests(run: ProgramRun) -> list[dict[str, Any]]:
    out = []
    for r in run.resources:
        if not r.type_.startswith("kubernetes:") or r.type_ in NOT_MANIFESTS:
            continue
        if r.type_ == "kubernetes:apiextensions.k8s.io:CustomResource":
            continue
        _, group_version, kind = r.type_.split(":")
        api_version = group_version.removeprefix("core/")
        out.append({"apiVersion": api_version, "kind": kind, **copy.deepcopy(r.inputs)})
    return out


def test_every_object_is_checked(gke: ProgramRun) -> None:
    kinds = {m["kind"] for m in manifests(gke)}
    assert kinds == {
        "Namespace", "ServiceAccount", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
        "NetworkPolicy", "ScaledObject", "TriggerAuthentication", "SecretStore", "ExternalSecret",
        "PodMonitoring", "CronJob",
    }


def validate(manifest: dict[str, Any], version: str) -> None:
    schema = BY_KIND.get(manifest["kind"])
    if schema is not None:
        jsonschema.validate(manifest, schema)
    else:
        kubernetes_validate.validate(manifest, version, strict=True)


def test_rendered_objects_validate(gke: ProgramRun) -> None:
    version = kubernetes_version()
    for manifest in manifests(gke):
        validate(manifest, version)


@pytest.mark.parametrize(
    ("kind", "breaks"),
    [
        ("Deployment", lambda m: m["spec"]["template"]["spec"]["containers"][0].update(readinessProbe={"httpGet": {"path": "/readyz"}})),
        ("Deployment", lambda m: m["spec"]["template"]["spec"].update(terminationGracePeriodSeconds="20")),
        ("PodDisruptionBudget", lambda m: m["spec"].update(maxUnavailabel=1)),
        ("ScaledObject", lambda m: m["spec"]["triggers"][0]["metadata"].update(listLength=5)),
        ("ExternalSecret", lambda m: m["spec"]["data"][0]["remoteRef"].update(keys="x")),
    ],
)
def test_a_broken_object_fails_validation(gke: ProgramRun, kind: str, breaks: Any) -> None:
    manifest = next(m for m in manifests(gke) if m["kind"] == kind)
    breaks(manifest)
    with pytest.raises((kubernetes_validate.ValidationError, jsonschema.ValidationError)):
        validate(manifest, kubernetes_version())
