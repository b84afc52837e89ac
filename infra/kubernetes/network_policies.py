"""NetworkPolicies: default deny, then only the traffic each workload needs.

Workers take no ingress but the kubelet's probes (which NetworkPolicies do not filter on GKE
Dataplane V2: probes come from the node) and Managed Prometheus's collectors scraping /metrics. Egress: the broker, DNS, and the GKE metadata server,
without which Workload Identity (Secret Manager, the tasks' Google APIs) breaks; plus the
public internet on 443 for the tasks' outside calls (the worker's own egress guard, WORKER_ALLOWED_HOSTS,
narrows that to named hosts).
"""

from __future__ import annotations

from typing import Any

import runtime_contract
from task_contract import deployment as contract

from kubernetes.cron_jobs import SCHEDULER_ROLE
from kubernetes.manifests import Manifest
from kubernetes.pod_monitoring import collector_peer

# The GKE metadata server (Workload Identity) answers on this link-local address, ports 80 and 988.
METADATA_SERVER = "169.254.169.254/32"
METADATA_PORTS = (80, 988)
# kube-dns on GKE; matched by label in kube-system.
DNS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def _policy(name: str, namespace: str, selector: dict[str, Any], spec: dict[str, Any]) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"podSelector": selector, **spec},
    }


def _dns_and_metadata_server() -> list[dict[str, Any]]:
    """Every pod's egress: names, and Workload Identity's tokens."""
    return [
        {"to": [DNS_PEER], "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {
            "to": [{"ipBlock": {"cidr": METADATA_SERVER}}],
            "ports": [{"protocol": "TCP", "port": p} for p in METADATA_PORTS],
        },
    ]


def _egress_base(redis_cidr: Any, redis_port: int) -> list[dict[str, Any]]:
    return [
        {"to": [{"ipBlock": {"cidr": redis_cidr}}], "ports": [{"protocol": "TCP", "port": redis_port}]},
        *_dns_and_metadata_server(),
        # Google APIs and the tasks' HTTPS calls: public addresses only, never the VPC.
        {
            "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_RANGES)}}],
            "ports": [{"protocol": "TCP", "port": 443}],
        },
    ]


def network_policies(namespace: str, redis_cidr: Any, redis_port: int) -> list[Manifest]:
    role = contract.ROLE_LABEL
    return [
        _policy("default-deny", namespace, {}, {"policyTypes": ["Ingress", "Egress"]}),
        _policy(
            "workers",
            namespace,
            {"matchLabels": {role: contract.WORKER_ROLE}},
            # Nothing reaches a worker but the managed Prometheus collectors on /metrics' port
            # (probes come from the node).
            {
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {"from": [collector_peer()], "ports": [{"protocol": "TCP", "port": runtime_contract.PORT}]}
                ],
                "egress": _egress_base(redis_cidr, redis_port),
            },
        ),
        _policy(
            "api",
            namespace,
            {"matchLabels": {role: contract.API_ROLE}},
            {
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"ports": [{"protocol": "TCP", "port": 8080}]}],
                "egress": _egress_base(redis_cidr, redis_port),
            },
        ),
    ]


def scheduler_policy(namespace: str) -> Manifest:
    """A schedule's tick pod: no ingress; egress to the API pods, DNS and the metadata server only."""
    return _policy(
        "scheduler",
        namespace,
        {"matchLabels": {contract.ROLE_LABEL: SCHEDULER_ROLE}},
        {
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                {
                    "to": [{"podSelector": {"matchLabels": {contract.ROLE_LABEL: contract.API_ROLE}}}],
                    "ports": [{"protocol": "TCP", "port": runtime_contract.PORT}],
                },
                *_dns_and_metadata_server(),
            ],
        },
    )
