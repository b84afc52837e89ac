"""A real Prometheus scrapes a local API and worker under the rendered rules (short ``for``s):
a backlog with its worker stopped makes QueueWithoutConsumer pending then firing; starting the
worker resolves it. The alerts page is photographed with headless Chromium (docs/operations.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.monitoring.prometheus_server import PrometheusServer
from tests.monitoring.rules import DEFAULT_THRESHOLDS, TARGETS, alert_rules, write_rules
from tests.support.api_process import ApiProcess
from tests.support.ports import wait_until
from tests.support.redis_server import RedisServer
from tests.support.system_packages import ensure_commands
from tests.support.worker_process import WorkerProcess

ALERT = "QueueWithoutConsumer"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "prometheus-alerts.png"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)


@pytest.fixture
def prometheus_servers() -> Iterator[list[PrometheusServer]]:
    servers: list[PrometheusServer] = []
    yield servers
    for server in servers:
        server.stop()


def screenshot(url: str, target: Path, profile: Path) -> None:
    ensure_commands({"chromium": "chromium"})
    result = subprocess.run(
        [
            "chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--hide-scrollbars",
            "--window-size=1280,900", "--virtual-time-budget=5000", f"--screenshot={target}", url,
        ],
        capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0 and target.stat().st_size > 10_000, result.stderr[-2000:]


def test_no_consumer_goes_pending_fires_and_resolves(
    redis_server: RedisServer,
    api_factory: Callable[..., ApiProcess],
    worker_factory: Callable[..., WorkerProcess],
    prometheus_servers: list[PrometheusServer],
    tmp_path: Path,
) -> None:
    thresholds = replace(DEFAULT_THRESHOLDS, no_consumer_seconds=6)
    rules = write_rules(tmp_path / "rules.yaml", alert_rules(thresholds, TARGETS), interval_seconds=1)
    api = api_factory(redis_server)
    worker = worker_factory(redis_server, WORKER_QUEUES="low")
    prometheus = PrometheusServer(
        tmp_path,
        rules,
        {
            "api": (api.port, {"namespace": "celery-dev-api"}),
            "worker-bulk": (worker.port, {"namespace": "celery-dev-worker-bulk"}),
        },
    ).start()
    prometheus_servers.append(prometheus)
    wait_until(lambda: prometheus.api("query?query=cloudrun_celery_worker_consuming")["result"], 15, "first scrape")
    assert prometheus.alert_states(ALERT) == []

    worker.stop()
    with api.client() as http:
        for _ in range(3):
            response = http.post("/v1/tasks/flaky", json={"fail_times": 0}, headers=api.auth_headers)
            assert response.status_code == 202, response.text
    wait_until(lambda: [s for s, _ in prometheus.alert_states(ALERT)] == ["pending"], 15, f"{ALERT} pending")
    (_, labels), = prometheus.alert_states(ALERT)
    assert labels["queue"] == "low"
    wait_until(lambda: [s for s, _ in prometheus.alert_states(ALERT)] == ["firing"], 15, f"{ALERT} firing")

    picture = tmp_path / "alerts.png"
    # Debian packages the classic UI; the React one is not built there.
    screenshot(f"{prometheus.url}/classic/alerts", picture, tmp_path / "chromium-profile")
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(picture, SCREENSHOT)

    worker_factory(redis_server, WORKER_QUEUES="low", PORT=str(worker.port))
    wait_until(lambda: prometheus.alert_states(ALERT) == [], 20, f"{ALERT} resolved once a worker consumes low")
