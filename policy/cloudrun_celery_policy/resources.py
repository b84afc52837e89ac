"""How the rules read pulumi-gcp resources as the policy engine shows them.

The engine hands a policy the resource's inputs with the provider schema's camelCase names
(``template.containers[0].envs[0].valueSource.secretKeyRef``), wrapped in read-only mappings
and sequences that raise ``UnknownValueError`` when a value is not known yet (during preview).
Everything here therefore takes ``Mapping``/``Sequence`` rather than ``dict``/``list``, and
tests membership by iterating keys: ``key in mapping`` would read the value and could raise.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from task_contract.deployment import ROLE_LABEL, WORKER_ROLE

SERVICE = "gcp:cloudrunv2/service:Service"
WORKER_POOL = "gcp:cloudrunv2/workerPool:WorkerPool"
REDIS_INSTANCE = "gcp:redis/instance:Instance"
SECRET = "gcp:secretmanager/secret:Secret"
SERVICE_IAM_MEMBER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
SERVICE_IAM_BINDING = "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding"
SERVICE_IAM_POLICY = "gcp:cloudrunv2/serviceIamPolicy:ServiceIamPolicy"

CONTAINER_RESOURCES = (SERVICE, WORKER_POOL)
SERVICE_IAM_RESOURCES = (SERVICE_IAM_MEMBER, SERVICE_IAM_BINDING, SERVICE_IAM_POLICY)

# How a Cloud Run service is recognised as a Celery worker. The contract is the label: it
# survives renames and autonaming and is visible both in the inputs (Analyze) and in the
# outputs (AnalyzeStack). As a second marker, a service declared inside infra's
# ``WorkerService`` component also counts: the component type is part of the resource URN, so
# a worker whose label was forgotten is still held to the worker rules.
WORKER_LABEL_KEY = ROLE_LABEL
WORKER_LABEL_VALUE = WORKER_ROLE
WORKER_COMPONENT = "WorkerService"


def has_key(mapping: Mapping[str, Any], key: str) -> bool:
    """``key in mapping`` without reading the value (which may be unknown during preview)."""
    return any(existing == key for existing in mapping)


def get_mapping(mapping: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The nested object at ``key``, or an empty mapping when it is absent or null."""
    if not has_key(mapping, key):
        return {}
    value = mapping[key]
    return value if isinstance(value, Mapping) else {}


def get_sequence(mapping: Mapping[str, Any], key: str) -> Sequence[Any]:
    """The list at ``key``, or an empty tuple when it is absent or null."""
    if not has_key(mapping, key):
        return ()
    value = mapping[key]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return value
    return ()


def get_optional(mapping: Mapping[str, Any], key: str) -> Any:
    """The value at ``key``, or None when it is absent."""
    return mapping[key] if has_key(mapping, key) else None


@dataclass(frozen=True)
class Container:
    """One container of a Cloud Run service or worker pool template."""

    owner: str
    index: int
    props: Mapping[str, Any]

    @property
    def label(self) -> str:
        name = get_optional(self.props, "name")
        return (
            f"{self.owner} container {name!r}"
            if name
            else f"{self.owner} container #{self.index}"
        )


def containers(resource_name: str, props: Mapping[str, Any]) -> Iterator[Container]:
    """The containers of a ``cloudrunv2`` Service or WorkerPool (``template.containers``)."""
    template = get_mapping(props, "template")
    for index, container in enumerate(get_sequence(template, "containers")):
        if isinstance(container, Mapping):
            yield Container(owner=resource_name, index=index, props=container)


def labels(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return get_mapping(props, "labels")


def parent_types(urn: str) -> list[str]:
    """The component types a resource is nested in, outermost first, read from its URN.

    ``urn:pulumi:STACK::PROJECT::cloudrun-celery:infra:WorkerService$gcp:cloudrunv2/service:Service::NAME``
    gives ``["cloudrun-celery:infra:WorkerService"]``.
    """
    parts = urn.split("::")
    if len(parts) < 4:
        return []
    return parts[2].split("$")[:-1]


def is_worker(props: Mapping[str, Any], urn: str = "") -> bool:
    """Whether a Cloud Run service is a worker: the worker label, or a WorkerService parent."""
    if labels(props).get(WORKER_LABEL_KEY) == WORKER_LABEL_VALUE:
        return True
    return any(t.rsplit(":", 1)[-1] == WORKER_COMPONENT for t in parent_types(urn))


def worker_marker(props: Mapping[str, Any]) -> str:
    """How a worker was recognised, for messages."""
    if labels(props).get(WORKER_LABEL_KEY) == WORKER_LABEL_VALUE:
        return f"label {WORKER_LABEL_KEY}={WORKER_LABEL_VALUE}"
    return f"declared in a {WORKER_COMPONENT} component"


def display_name(resource_name: str, props: Mapping[str, Any]) -> str:
    """The Pulumi resource name, plus the cloud name when it is set and differs."""
    cloud_name = get_optional(props, "name")
    if isinstance(cloud_name, str) and cloud_name and cloud_name != resource_name:
        return f"'{resource_name}' (name '{cloud_name}')"
    return f"'{resource_name}'"
