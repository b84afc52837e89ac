"""``network``: VPC egress (Serverless VPC Access connector or direct VPC egress) and its ranges."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from .reader import ConfigReader

Egress = Literal["connector", "direct"]

NETWORK_KEYS = frozenset({"egress", "subnetCidr", "connector"})
CONNECTOR_KEYS = frozenset(
    {"name", "cidr", "minInstances", "maxInstances", "machineType"}
)
CONNECTOR_MACHINE_TYPES = ("f1-micro", "e2-micro", "e2-standard-4")
CONNECTOR_NAME_RE = re.compile(r"^[a-z][-a-z0-9]{0,23}[a-z0-9]$")


@dataclass(frozen=True)
class ConnectorSettings:
    name: str
    cidr: str
    min_instances: int
    max_instances: int
    machine_type: str


@dataclass(frozen=True)
class NetworkSettings:
    egress: Egress
    subnet_cidr: str
    connector: ConnectorSettings


def read_network(reader: ConfigReader, name_prefix: str) -> NetworkSettings:
    cfg = reader.section("network", NETWORK_KEYS)
    egress: Egress = reader.choice(
        "network.egress", cfg.get("egress"), "connector", ("connector", "direct")
    )
    # Direct VPC egress takes instance IPs from this subnet; Cloud Run asks for /26 or larger.
    subnet_cidr = reader.cidr(
        "network.subnetCidr", cfg.get("subnetCidr"), "10.10.0.0/24", (8, 26)
    )
    if egress == "direct" and "connector" in cfg:
        reader.fail(
            "network.connector",
            cfg["connector"],
            "unset with network.egress: direct (no connector is created: Direct VPC egress "
            "takes addresses from network.subnetCidr). Remove it, or use egress: connector",
        )
    conn = reader.object("network.connector", CONNECTOR_KEYS, cfg.get("connector"))
    name = reader.text(
        "network.connector.name",
        conn.get("name"),
        f"{name_prefix}-conn",
        CONNECTOR_NAME_RE,
        "at most 25 chars of a-z 0-9 -, starting with a letter (Serverless VPC Access limit)",
    )
    cidr = reader.cidr(
        "network.connector.cidr", conn.get("cidr"), "10.8.0.0/28", (28, 28)
    )
    min_instances = reader.integer(
        "network.connector.minInstances", conn.get("minInstances"), 2, 2, 9
    )
    max_instances = reader.integer(
        "network.connector.maxInstances", conn.get("maxInstances"), 3, 3, 10
    )
    if min_instances >= max_instances:
        reader.fail(
            "network.connector.minInstances",
            min_instances,
            f"less than network.connector.maxInstances ({max_instances})",
        )
    machine_type = reader.choice(
        "network.connector.machineType",
        conn.get("machineType"),
        "e2-micro",
        CONNECTOR_MACHINE_TYPES,
    )
    if ipaddress.ip_network(cidr).overlaps(ipaddress.ip_network(subnet_cidr)):
        reader.fail(
            "network.connector.cidr",
            cidr,
            f"a /28 outside network.subnetCidr ({subnet_cidr})",
        )
    return NetworkSettings(
        egress=egress,
        subnet_cidr=subnet_cidr,
        connector=ConnectorSettings(
            name=name,
            cidr=cidr,
            min_instances=min_instances,
            max_instances=max_instances,
            machine_type=machine_type,
        ),
    )
