"""A real Prometheus (Debian's ``prometheus`` package) scraping local targets under the rendered rules."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.ports import free_port, wait_until
from tests.support.system_packages import ensure_commands


@dataclass
class PrometheusServer:
    directory: Path
    rules: Path
    targets: dict[str, tuple[int, dict[str, str]]]  # job -> (port, extra labels)
    interval: str = "1s"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusServer:
        ensure_commands({"prometheus": "prometheus"})
        config = {
            "global": {"scrape_interval": self.interval, "evaluation_interval": self.interval},
            "rule_files": [str(self.rules)],
            "scrape_configs": [
                {
                    "job_name": job,
                    "scrape_timeout": self.interval,
                    "static_configs": [{"targets": [f"127.0.0.1:{port}"], "labels": labels}],
                }
                for job, (port, labels) in self.targets.items()
            ],
        }
        config_file = self.directory / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        log = (self.directory / "prometheus.log").open("ab")
        self.process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_until(self._ready, timeout=30, what=f"Prometheus ready on {self.url} (log: {self.directory}/prometheus.log)")
        return self

    def _ready(self) -> bool:
        assert self.process is not None and self.process.poll() is None, (self.directory / "prometheus.log").read_text()
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return int(response.status) == 200
        except OSError:
            return False

    def api(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}", timeout=5) as response:
            return json.loads(response.read())["data"]

    def alert_states(self, name: str) -> list[tuple[str, dict[str, str]]]:
        return [(a["state"], a["labels"]) for a in self.api("alerts")["alerts"] if a["labels"]["alertname"] == name]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
