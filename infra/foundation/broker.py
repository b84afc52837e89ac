"""Broker: Memorystore for Redis, with AUTH and in-transit TLS, and the URL clients use."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

import pulumi
import pulumi_gcp as gcp
from settings.redis import RedisSettings


@dataclass(frozen=True)
class BrokerArgs:
    project: str
    region: str
    instance_name: str
    settings: RedisSettings
    network_id: pulumi.Input[str]
    deletion_protection: bool
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Broker(pulumi.ComponentResource):
    instance: gcp.redis.Instance
    host: pulumi.Output[str]
    url: pulumi.Output[str]
    """``rediss://:<auth>@host:port/0`` (``redis://`` without TLS). Always a secret output."""
    ca_certificate: pulumi.Output[str] | None
    """The server CA clients must trust; ``None`` when in-transit encryption is off."""

    def __init__(
        self, name: str, args: BrokerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudrun-celery:infra:Broker", name, None, opts)
        redis = args.settings
        window = redis.maintenance_window
        self.instance = gcp.redis.Instance(
            "redis",
            project=args.project,
            region=args.region,
            name=args.instance_name,
            tier=redis.tier,
            memory_size_gb=redis.memory_size_gb,
            redis_version=redis.version,
            authorized_network=args.network_id,
            connect_mode="DIRECT_PEERING",
            auth_enabled=True,
            transit_encryption_mode="SERVER_AUTHENTICATION"
            if redis.transit_encryption
            else "DISABLED",
            # Celery keeps queued tasks in Redis: evicting keys would silently drop work.
            redis_configs={"maxmemory-policy": "noeviction"},
            # RDB snapshots are all Memorystore offers: a restart comes back from the last one
            # (what that loses and repeats: docs/broker-durability.md). Always declared, so
            # turning them off in config turns them off on the instance.
            persistence_config=gcp.redis.InstancePersistenceConfigArgs(
                persistence_mode="DISABLED"
                if redis.snapshot_period == "DISABLED"
                else "RDB",
                rdb_snapshot_period=None
                if redis.snapshot_period == "DISABLED"
                else redis.snapshot_period,
            ),
            maintenance_policy=gcp.redis.InstanceMaintenancePolicyArgs(
                weekly_maintenance_windows=[
                    gcp.redis.InstanceMaintenancePolicyWeeklyMaintenanceWindowArgs(
                        day=window.day,
                        start_time=gcp.redis.InstanceMaintenancePolicyWeeklyMaintenanceWindowStartTimeArgs(
                            hours=window.hour, minutes=0
                        ),
                    )
                ]
            ),
            deletion_protection=args.deletion_protection,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=args.depends_on,
                protect=args.deletion_protection,
            ),
        )
        scheme = "rediss" if redis.transit_encryption else "redis"
        self.host = self.instance.host
        self.url = pulumi.Output.secret(
            pulumi.Output.all(
                self.instance.auth_string, self.instance.host, self.instance.port
            ).apply(
                lambda parts: (
                    f"{scheme}://:{quote(str(parts[0]), safe='')}@{parts[1]}:{parts[2]}/0"
                )
            )
        )
        self.ca_certificate = None
        if redis.transit_encryption:
            self.ca_certificate = pulumi.Output.secret(
                self.instance.server_ca_certs.apply(
                    lambda certs: "".join(c.cert or "" for c in certs or [])
                )
            )
        self.register_outputs({"host": self.host})
