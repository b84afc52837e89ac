"""Identities: one service account per Cloud Run workload, so each gets only its own grants."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp


@dataclass(frozen=True)
class IdentitiesArgs:
    project: str
    name_prefix: str
    worker_groups: tuple[str, ...]
    # Flower's own account (flower.enabled): it reads the broker's secrets only.
    flower: bool = False
    # Celery beat's own account (beat.enabled): it reads the broker's secrets only.
    beat: bool = False
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Identities(pulumi.ComponentResource):
    api: gcp.serviceaccount.Account
    workers: dict[str, gcp.serviceaccount.Account]
    flower: gcp.serviceaccount.Account | None
    beat: gcp.serviceaccount.Account | None

    def readers(self) -> dict[str, tuple[str, pulumi.Output[str]]]:
        """Workload (``api`` or a worker group) -> (grant name, IAM member ``serviceAccount:...``).

        The grant name (``api``, ``worker-<group>``) names the workload's IAM grants, as it
        always has: renaming it would replace every grant.
        """
        return dict(self._members)

    def __init__(
        self,
        name: str,
        args: IdentitiesArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("cloudrun-celery:infra:Identities", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        self.api = gcp.serviceaccount.Account(
            "api",
            project=args.project,
            account_id=f"{args.name_prefix}-api",
            display_name="cloudrun-celery API (Cloud Run)",
            opts=child,
        )
        self.workers = {
            group: gcp.serviceaccount.Account(
                f"worker-{group}",
                project=args.project,
                account_id=f"{args.name_prefix}-wkr-{group}",
                display_name=f"cloudrun-celery worker group {group} (Cloud Run)",
                opts=child,
            )
            for group in args.worker_groups
        }
        self.flower = self._optional_account(
            "flower", args.flower, args, "cloudrun-celery Flower monitor (Cloud Run)", child
        )
        self.beat = self._optional_account(
            "beat", args.beat, args, "cloudrun-celery Celery beat (Cloud Run worker pool)", child
        )
        self._members = {
            "api": ("api", _member(self.api)),
            **{
                group: (f"worker-{group}", _member(account))
                for group, account in self.workers.items()
            },
        }
        self.register_outputs(
            {
                "api": self.api.email,
                "workers": {g: a.email for g, a in self.workers.items()},
            }
        )

    @staticmethod
    def _optional_account(
        name: str, wanted: bool, args: IdentitiesArgs, display_name: str, opts: pulumi.ResourceOptions
    ) -> gcp.serviceaccount.Account | None:
        """The account ``<prefix>-<name>`` of an optional workload (Flower, beat), when it is deployed."""
        if not wanted:
            return None
        return gcp.serviceaccount.Account(
            name,
            project=args.project,
            account_id=f"{args.name_prefix}-{name}",
            display_name=display_name,
            opts=opts,
        )


def _member(account: gcp.serviceaccount.Account) -> pulumi.Output[str]:
    return account.email.apply(lambda email: f"serviceAccount:{email}")
