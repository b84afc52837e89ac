"""The pack as the Pulumi CLI runs it: a separate process speaking the Analyzer gRPC protocol.

The CLI starts ``python -m pulumi.policy <engine> .`` in ``policy/`` with PULUMI_STACK and
friends in the environment, reads the port from stdout, then calls GetAnalyzerInfo, Analyze
per resource and AnalyzeStack. This test does the same with no CLI, so packaging mistakes
(imports in ``__main__.py``, policy names, enforcement levels, how props arrive over the wire)
show up here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest
from google.protobuf import empty_pb2, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policy.cloudrun_celery_policy.resources import (
    REDIS_INSTANCE,
    SERVICE,
    SERVICE_IAM_MEMBER,
)
from tests.policy.support import UNKNOWN, container, redis_instance, urn, worker_service

PACK_DIR = Path(__file__).resolve().parents[2] / "policy"


@pytest.fixture(scope="module")
def analyzer(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    env = {
        **os.environ,
        "PULUMI_STACK": "prod",
        "PULUMI_PROJECT": "cloudrun-celery",
        "PULUMI_DRY_RUN": "false",
    }
    # A file, not a pipe, for stderr: nobody drains it while the tests run.
    stderr_path = tmp_path_factory.mktemp("policy-pack") / "stderr.log"
    stderr_file = stderr_path.open("wb")
    # The engine address is only used for logging errors; nothing listens there.
    process = subprocess.Popen(
        [sys.executable, "-m", "pulumi.policy", "127.0.0.1:1", "."],
        cwd=PACK_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr_file,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()
        if not line.isdigit():
            process.kill()
            process.wait(timeout=10)
            stderr_file.flush()
            pytest.fail(
                f"policy pack did not print its port: {line!r}\n{stderr_path.read_text()}"
            )
        channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(channel).result(timeout=20)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
        stderr_file.close()


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(props)
    return message


def _analyze(
    stub: analyzer_pb2_grpc.AnalyzerStub,
    resource_type: str,
    name: str,
    props: Mapping[str, Any],
) -> list[analyzer_pb2.AnalyzeDiagnostic]:
    request = analyzer_pb2.AnalyzeRequest(
        type=resource_type,
        name=name,
        urn=urn(resource_type, name, stack="prod"),
        properties=_struct(props),
        options=analyzer_pb2.AnalyzerResourceOptions(protect=False),
    )
    return list(stub.Analyze(request).diagnostics)


def test_pack_describes_its_mandatory_policies(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "cloudrun-celery-security"
    assert {p.name: p.enforcementLevel for p in info.policies} == {
        "worker-not-public": analyzer_pb2.MANDATORY,
        "worker-no-public-invoker": analyzer_pb2.MANDATORY,
        "secrets-from-secret-manager": analyzer_pb2.MANDATORY,
        "redis-tls-and-auth": analyzer_pb2.MANDATORY,
        "images-pinned-by-digest": analyzer_pb2.MANDATORY,
        "project-iam-metric-writer-only": analyzer_pb2.MANDATORY,
        "prod-deletion-protection": analyzer_pb2.MANDATORY,
        "no-project-wide-iam": analyzer_pb2.MANDATORY,
        # platform: gke (tests/kubernetes/test_kubernetes_policies.py)
        "k8s-pod-security": analyzer_pb2.MANDATORY,
        "k8s-probes": analyzer_pb2.MANDATORY,
        "k8s-no-plaintext-secret": analyzer_pb2.MANDATORY,
        "k8s-no-public-worker": analyzer_pb2.MANDATORY,
        "k8s-pdb-per-workload": analyzer_pb2.MANDATORY,
    }


def test_compliant_resources_get_no_diagnostics(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    assert _analyze(analyzer, SERVICE, "worker", worker_service()) == []
    assert _analyze(analyzer, REDIS_INSTANCE, "broker", redis_instance()) == []


def test_violations_come_back_mandatory_with_the_description(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    diagnostics = _analyze(
        analyzer,
        REDIS_INSTANCE,
        "broker",
        redis_instance(authEnabled=False, deletionProtection=False),
    )
    assert sorted((d.policyName, d.enforcementLevel) for d in diagnostics) == [
        (
            "prod-deletion-protection",
            analyzer_pb2.MANDATORY,
        ),  # PULUMI_STACK=prod reached the pack
        ("redis-tls-and-auth", analyzer_pb2.MANDATORY),
    ]
    auth = next(d for d in diagnostics if d.policyName == "redis-tls-and-auth")
    assert auth.message == (
        "Memorystore Redis has AUTH on and in-transit encryption SERVER_AUTHENTICATION.\n"
        "Redis instance 'broker' has AUTH disabled (authEnabled=False); set auth_enabled=True."
    )


def test_unknown_image_during_preview_is_deferred_not_passed(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    # An image digest that is only known after the build is an unknown during preview. The
    # SDK turns that into an advisory "can't run policy ... during preview" note; the real
    # check runs at `pulumi up`, when the digest is known.
    props = worker_service(template={"containers": [container(image=UNKNOWN)]})
    [diagnostic] = _analyze(analyzer, SERVICE, "worker", props)
    assert diagnostic.policyName == "images-pinned-by-digest"
    assert diagnostic.enforcementLevel == analyzer_pb2.ADVISORY
    assert "during preview" in diagnostic.message


def test_stack_policy_sees_a_public_worker_grant(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    worker_urn = urn(SERVICE, "worker", stack="prod")
    grant_urn = urn(SERVICE_IAM_MEMBER, "worker-public", stack="prod")
    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=SERVICE,
                name="worker",
                urn=worker_urn,
                properties=_struct(worker_service()),
            ),
            analyzer_pb2.AnalyzerResource(
                type=SERVICE_IAM_MEMBER,
                name="worker-public",
                urn=grant_urn,
                properties=_struct(
                    {
                        "name": "renamed",
                        "role": "roles/run.invoker",
                        "member": "allUsers",
                    }
                ),
                dependencies=[worker_urn],
                propertyDependencies={
                    "name": analyzer_pb2.AnalyzerPropertyDependencies(urns=[worker_urn])
                },
            ),
        ]
    )
    diagnostics = list(analyzer.AnalyzeStack(request).diagnostics)
    assert [(d.policyName, d.urn) for d in diagnostics] == [
        ("worker-no-public-invoker", grant_urn)
    ]
