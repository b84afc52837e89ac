"""Where ``external_call`` may connect: allowed host names, public addresses, the address pinned.

A key holder names the URL, so without limits the worker fetches anything it can reach: Redis's
own port, the metadata server (169.254.169.254), other VPC services (blind SSRF). The rules:

- the URL's host must match ``EXTERNAL_CALL_ALLOWED_HOSTS`` (exact names, ``*.example.com`` for
  subdomains, ``*`` for any host); the default is empty, so no URL is fetched until you allow some;
- every address the name resolves to must be public (not private, loopback, link-local, metadata,
  CGNAT, multicast, reserved), unless it lies in ``EXTERNAL_CALL_ALLOWED_NETWORKS`` (CIDRs);
- the check runs on the resolved addresses, and the connection goes to the checked address
  (``Host`` and TLS SNI keep the name), so a second DNS answer cannot switch it (DNS rebinding);
- redirects are not followed: the task returns the 3xx status, and a redirect cannot escape the rules.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[..., list[Any]]


class DestinationRefused(ValueError):
    """The URL's host or address is not allowed; says which rule and which variable allows it."""


def parse_hosts(value: str) -> tuple[str, ...]:
    return tuple(name.strip().lower().rstrip(".") for name in value.split(",") if name.strip())


def parse_networks(value: str) -> tuple[Network, ...]:
    """CIDRs (a bare address is a /32 or /128); ValueError names the bad entry."""
    networks = []
    for entry in (part.strip() for part in value.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP network; use a CIDR such as 10.0.0.0/8") from None
    return tuple(networks)


def is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class EgressPolicy:
    hosts: tuple[str, ...] = ()
    networks: tuple[Network, ...] = ()

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for pattern in self.hosts:
            if pattern == "*" or pattern == host:
                return True
            if pattern.startswith("*.") and host.endswith(pattern[1:]):
                return True
        return False

    def address_allowed(self, address: Address) -> bool:
        return is_public(address) or any(address in network for network in self.networks)

    def pinned_address(self, url: str, resolve: Resolver = socket.getaddrinfo) -> str:
        """The one address to connect to for ``url``; DestinationRefused if any rule forbids it."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host:
            raise DestinationRefused(f"external_call fetches http(s) URLs with a host only, not {url!r}")
        if not self.host_allowed(host):
            raise DestinationRefused(
                f"external_call refuses {host!r}: not in EXTERNAL_CALL_ALLOWED_HOSTS "
                f"({','.join(self.hosts) or 'empty'}); add the host there to allow it"
            )
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in resolve(host, port, type=socket.SOCK_STREAM)]
        refused = sorted({str(a) for a in addresses if not self.address_allowed(a)})
        if refused or not addresses:
            raise DestinationRefused(
                f"external_call refuses {host!r}: it resolves to {', '.join(refused) or 'nothing'}, "
                "a private, loopback, link-local or metadata address; add its network to "
                "EXTERNAL_CALL_ALLOWED_NETWORKS to allow it"
            )
        return str(addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, address: str, **kwargs: Any) -> None:
        super().__init__(host, context=ssl.create_default_context(), **kwargs)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        # Certificate and SNI for the name in the URL, connection to the checked address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def fetch(
    policy: EgressPolicy, url: str, timeout: float, max_bytes: int, resolve: Resolver = socket.getaddrinfo
) -> tuple[int, bytes]:
    """GET ``url`` within ``policy``: (status, at most ``max_bytes`` of the body). Redirects are returned, not followed."""
    address = policy.pinned_address(url, resolve)
    parts = urlsplit(url)
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(parts.hostname or "", address, port=parts.port, timeout=timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", path, headers={"User-Agent": "cloudrun-celery-worker"})
        response = connection.getresponse()
        return int(response.status), response.read(max_bytes)
    finally:
        connection.close()
