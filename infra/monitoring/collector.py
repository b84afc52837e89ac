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

import pulumi_gcp as gcp
import runtime_contract
from settings.monitoring import COLLECTOR_SIZE

CONTAINER_NAME = "collector"
# Each container may take a fraction of a vCPU; the instance's sum must stay at least 1.
CPU = COLLECTOR_SIZE.cpu
MEMORY = COLLECTOR_SIZE.memory
METRICS_PATH = "/metrics"


# The sidecar's default RunMonitoring scrapes this port; both images listen on it.
DEFAULT_SCRAPE_PORT = 8080


def service_sidecar(
    image: str, serving_container: str, *, cpu_idle: bool
) -> gcp.cloudrunv2.ServiceTemplateContainerArgsDict:
    """The collector in a Cloud Run service, started after the container it scrapes.

    ``cpu_idle`` follows the serving container (request-based or instance-based CPU).
    """
    _check_scrape_port()
    return {
        "name": CONTAINER_NAME,
        "image": image,
        "resources": {"limits": {"cpu": CPU, "memory": MEMORY}, "cpu_idle": cpu_idle},
        "depends_ons": [serving_container],
    }


def pool_sidecar(image: str, serving_container: str) -> gcp.cloudrunv2.WorkerPoolTemplateContainerArgsDict:
    """The collector in a worker pool (CPU is always allocated there)."""
    _check_scrape_port()
    return {
        "name": CONTAINER_NAME,
        "image": image,
        "resources": {"limits": {"cpu": CPU, "memory": MEMORY}},
        "depends_ons": [serving_container],
    }


def _check_scrape_port() -> None:
    if runtime_contract.PORT != DEFAULT_SCRAPE_PORT:
        raise ValueError(
            f"the collector's default config scrapes :{DEFAULT_SCRAPE_PORT}{METRICS_PATH}, but the images "
            f"listen on {runtime_contract.PORT}; mount a RunMonitoring config that names the new port"
        )
