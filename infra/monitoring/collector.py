"""The metrics collector: a second container in every Cloud Run service and worker pool.

It is Managed Service for Prometheus's sidecar for Cloud Run (GoogleCloudPlatform/run-gmp-sidecar),
which supports services and worker pools. With no config mounted it runs its default
RunMonitoring: scrape ``localhost:8080/metrics`` every 60 s, where both images serve /metrics
(runtime_contract.PORT), and write to Cloud Monitoring as the workload's service account
(``roles/monitoring.metricWriter``). It scrapes once at start-up and once at shutdown.

On the request-billed API (``cpu_idle``) scrapes between requests can be lost; nothing that
alerts depends on them (docs/operations.md, "Where each signal comes from").
"""

from __future__ import annotations

from typing import Any

import runtime_contract

CONTAINER_NAME = "collector"
# Each container may take a fraction of a vCPU; the instance's sum must stay at least 1.
CPU = "0.25"
MEMORY = "256Mi"
METRICS_PATH = "/metrics"


# The sidecar's default RunMonitoring scrapes this port; both images listen on it.
DEFAULT_SCRAPE_PORT = 8080


def sidecar(image: str, serving_container: str, cpu_idle: bool | None = None) -> dict[str, Any]:
    """The collector container, started after the container it scrapes is up.

    ``cpu_idle`` follows the serving container on a service (a worker pool has no such setting).
    """
    if runtime_contract.PORT != DEFAULT_SCRAPE_PORT:
        raise ValueError(
            f"the collector's default config scrapes :{DEFAULT_SCRAPE_PORT}{METRICS_PATH}, but the images "
            f"listen on {runtime_contract.PORT}; mount a RunMonitoring config that names the new port"
        )
    resources: dict[str, Any] = {"limits": {"cpu": CPU, "memory": MEMORY}}
    if cpu_idle is not None:
        resources["cpu_idle"] = cpu_idle
    return {
        "name": CONTAINER_NAME,
        "image": image,
        "resources": resources,
        "depends_ons": [serving_container],
    }
