"""The Pulumi mocks the harness runs the program against: a monitor that records each resource
registration with the options the engine would see, and plausible provider outputs per resource type.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.sync_await import _ensure_event_loop

# Marker Pulumi uses for secret values on the wire (sdk/python/lib/pulumi/runtime/rpc.py).
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


@dataclass(frozen=True)
class MockedResource:
    """One resource registration as the engine would receive it."""

    type_: str
    name: str
    urn: str
    inputs: dict[str, Any]
    custom: bool
    protect: bool
    retain_on_delete: bool
    parent: str
    provider: str
    depends_on: tuple[str, ...]
    ignore_changes: tuple[str, ...]
    delete_before_replace: bool
    # Top-level input keys whose value, or a value nested inside it, was marked secret.
    secret_inputs: frozenset[str] = field(default_factory=frozenset)
    # Old URNs this resource claims (its ``aliases`` and those inherited from its parents).
    alias_urns: tuple[str, ...] = ()

    @property
    def parent_type(self) -> str | None:
        if not self.parent:
            return None
        return self.parent.split("::")[2].split("$")[-1]


def _has_secret(value: Any) -> bool:
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == _SECRET_SIG:
            return True
        return any(_has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secret(v) for v in value)
    return False


class RecordingMonitor(MockMonitor):
    """Mock monitor that also records the resource options the engine would see."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.recorded: list[MockedResource] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        _ensure_event_loop()
        from google.protobuf import json_format

        wire = (
            json_format.MessageToDict(request.object)
            if request.HasField("object")
            else {}
        )
        inputs = (
            rpc.deserialize_properties(request.object)
            if request.HasField("object")
            else {}
        )
        record = MockedResource(
            type_=request.type,
            name=request.name,
            urn=response.urn,
            inputs=_plain(inputs),
            custom=bool(request.custom),
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            parent=request.parent,
            provider=request.provider,
            depends_on=tuple(request.dependencies),
            ignore_changes=tuple(request.ignoreChanges),
            delete_before_replace=bool(request.deleteBeforeReplace),
            secret_inputs=frozenset(k for k, v in wire.items() if _has_secret(v)),
            alias_urns=tuple(sorted(a.urn for a in request.aliases)),
        )
        with self._lock:
            self.recorded.append(record)
        return response


def _plain(value: Any) -> Any:
    """Inputs as plain data: secrets unwrapped (``secret_inputs`` says which), whole numbers as int."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == _SECRET_SIG:
            return _plain(value.get("value"))
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        # The wire format (protobuf Struct) carries every number as a double.
        return int(value)
    return value


class ProgramMocks(Mocks):
    """Plausible provider outputs for the resource types the program declares."""

    def __init__(self, project: str) -> None:
        self.project = project

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        outputs = dict(args.inputs)
        name = args.inputs.get("name") or args.name
        typ = args.typ
        if typ == "gcp:serviceaccount/account:Account":
            outputs["email"] = (
                f"{args.inputs['accountId']}@{self.project}.iam.gserviceaccount.com"
            )
            outputs["member"] = f"serviceAccount:{outputs['email']}"
        elif typ == "gcp:cloudrunv2/service:Service":
            outputs["uri"] = f"https://{name}-abc123de-ew.a.run.app"
            outputs["latestCreatedRevision"] = f"{name}-00001-new"
        elif typ == "gcp:redis/instance:Instance":
            tls = args.inputs.get("transitEncryptionMode") == "SERVER_AUTHENTICATION"
            outputs["host"] = "10.20.0.3"
            outputs["port"] = 6378 if tls else 6379
            outputs["authString"] = "mock-redis-auth-string"
            outputs["serverCaCerts"] = (
                [
                    {
                        "cert": "-----BEGIN CERTIFICATE-----\nmock\n-----END CERTIFICATE-----\n"
                    }
                ]
                if tls
                else []
            )
        elif typ == "gcp:secretmanager/secret:Secret":
            outputs["name"] = (
                f"projects/{self.project}/secrets/{args.inputs['secretId']}"
            )
        elif typ == "gcp:secretmanager/secretVersion:SecretVersion":
            outputs["version"] = "1"
            outputs["name"] = f"{args.inputs.get('secret')}/versions/1"
        elif typ == "gcp:artifactregistry/repository:Repository":
            outputs["name"] = args.inputs["repositoryId"]
        elif (
            typ == "gcp:compute/network:Network"
            or typ == "gcp:compute/subnetwork:Subnetwork"
        ):
            outputs["selfLink"] = (
                f"https://www.googleapis.com/compute/v1/projects/{self.project}/{name}"
            )
        elif typ == "gcp:container/cluster:Cluster":
            outputs["endpoint"] = "203.0.113.20"
            outputs["masterAuth"] = {"clusterCaCertificate": "bW9jay1jYQ=="}
        elif typ == "kubernetes:core/v1:Service" and args.inputs.get("spec", {}).get("type") == "LoadBalancer":
            # GKE gives a LoadBalancer Service an address once the load balancer exists.
            outputs["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.30"}]}}
        elif typ == "docker:index/image:Image":
            image_name = str(args.inputs.get("imageName", args.name))
            digest = hashlib.sha256(image_name.encode()).hexdigest()
            outputs["repoDigest"] = f"{image_name.rsplit(':', 1)[0]}@sha256:{digest}"
        return f"{args.name}-id", outputs

    def call(
        self, args: MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "gcp:organizations/getProject:getProject":
            # No failures is an empty list: pulumi's MockMonitor iterates it.
            return {"projectId": self.project, "number": "123456789012"}, []
        if args.token == "gcp:container/getCluster:getCluster":
            # platform: gke with gke.existingCluster: the cluster the program deploys into.
            return {
                "endpoint": "203.0.113.10",
                "masterAuths": [{"clusterCaCertificate": "bW9jay1jYQ=="}],
            }, []
        return {}, []
