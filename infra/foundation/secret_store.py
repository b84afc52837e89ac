"""Secrets: Secret Manager secrets, each readable only by the service accounts that need it.

(Named ``secret_store`` rather than ``secrets``: the language host puts ``infra/`` first on
``sys.path``, so a ``secrets.py`` here would shadow the standard library module.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
from runtime_contract import SecretRef

ACCESSOR_ROLE = "roles/secretmanager.secretAccessor"


@dataclass(frozen=True)
class SecretSpec:
    """One secret: its id, its value if Pulumi manages it, and who may read it."""

    key: str
    secret_id: str
    value: pulumi.Output[str] | None
    readers: Mapping[str, pulumi.Input[str]]
    """Workload name -> IAM member (``serviceAccount:...``), granted ``secretAccessor`` on this
    secret only, never project-wide."""


@dataclass(frozen=True)
class SecretStoreArgs:
    project: str
    secrets: Sequence[SecretSpec]
    deletion_protection: bool
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class SecretStore(pulumi.ComponentResource):
    secrets: dict[str, gcp.secretmanager.Secret]
    refs: dict[str, SecretRef]
    """By key: what a Cloud Run container references (version pinned when Pulumi wrote it)."""
    access: list[pulumi.Resource]
    """The IAM grants; a service must wait for them or its first revision cannot read them."""

    def __init__(
        self,
        name: str,
        args: SecretStoreArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("cloudrun-celery:infra:SecretStore", name, None, opts)
        self.secrets = {}
        self.refs = {}
        self.access = []
        for spec in args.secrets:
            secret = gcp.secretmanager.Secret(
                spec.key,
                project=args.project,
                secret_id=spec.secret_id,
                replication=gcp.secretmanager.SecretReplicationArgs(
                    auto=gcp.secretmanager.SecretReplicationAutoArgs()
                ),
                deletion_protection=args.deletion_protection,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=args.depends_on,
                    protect=args.deletion_protection,
                ),
            )
            self.secrets[spec.key] = secret
            version: pulumi.Input[str] = "latest"
            if spec.value is not None:
                secret_version = gcp.secretmanager.SecretVersion(
                    spec.key,
                    secret=secret.id,
                    secret_data=spec.value,
                    opts=pulumi.ResourceOptions(parent=self),
                )
                # Pinning the version rolls out a new revision when Pulumi changes the value.
                version = secret_version.version
            self.refs[spec.key] = SecretRef(secret_id=secret.secret_id, version=version)
            for reader_name, reader in spec.readers.items():
                self.access.append(
                    gcp.secretmanager.SecretIamMember(
                        f"{spec.key}-{reader_name}",
                        project=args.project,
                        secret_id=secret.secret_id,
                        role=ACCESSOR_ROLE,
                        member=reader,
                        opts=pulumi.ResourceOptions(parent=self),
                    )
                )
        self.register_outputs(
            {"secret_ids": {k: s.secret_id for k, s in self.secrets.items()}}
        )
