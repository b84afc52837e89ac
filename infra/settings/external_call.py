"""``workers[].externalCallAllowedHosts`` / ``externalCallAllowedNetworks``: where ``external_call`` may connect.

The worker enforces them (services/worker/worker/egress.py, EXTERNAL_CALL_ALLOWED_HOSTS and
EXTERNAL_CALL_ALLOWED_NETWORKS); here they are checked before deploy so a typo fails the preview
instead of every task of the group.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from .reader import ConfigReader

# An exact host name, ``*.example.com`` for its subdomains, or ``*`` for any (public) host.
HOST_PATTERN_RE = re.compile(
    r"^(\*|(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*)$"
)
HOSTS_ALLOWED = "a list of host names: exact (api.example.com), *.example.com for subdomains, or *"
NETWORKS_ALLOWED = "a list of CIDRs that external_call may reach although private, e.g. [10.8.0.0/24]"


def _entries(reader: ConfigReader, key: str, value: Any, allowed: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        reader.fail(key, value, allowed)
        return []
    return [item.strip() for item in value]


def read_allowed_hosts(reader: ConfigReader, key: str, value: Any) -> tuple[str, ...]:
    hosts = []
    for host in _entries(reader, key, value, HOSTS_ALLOWED):
        name = host.lower().rstrip(".")
        if not HOST_PATTERN_RE.fullmatch(name):
            reader.fail(key, host, HOSTS_ALLOWED)
        else:
            hosts.append(name)
    return tuple(dict.fromkeys(hosts))


def read_allowed_networks(reader: ConfigReader, key: str, value: Any) -> tuple[str, ...]:
    networks = []
    for entry in _entries(reader, key, value, NETWORKS_ALLOWED):
        try:
            networks.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            reader.fail(key, entry, NETWORKS_ALLOWED)
    return tuple(dict.fromkeys(networks))
