"""Monitoring on GKE: Managed Prometheus scrapes the pods, and the same alerts select them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.infra.harness import ProgramRun
from tests.monitoring.rules import DEFAULT_THRESHOLDS, AlertTargets, alert_rules, promtool, write_rules

GKE_TARGETS = AlertTargets(
    name_prefix="celery-gke", api_service="celery-gke-api", redis_instance="celery-gke-broker", gke_namespace="celery"
)


def test_pod_monitoring_scrapes_the_api_and_workers(gke: ProgramRun) -> None:
    (monitor,) = gke.of_type("kubernetes:monitoring.googleapis.com/v1:PodMonitoring")
    spec = monitor.inputs["spec"]
    assert spec["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "60s"}]
    (selector,) = spec["selector"]["matchExpressions"]
    assert (selector["key"], sorted(selector["values"])) == ("role", ["api", "worker"])
    # Only the managed collectors may reach a worker, on the metrics port.
    (workers,) = [p for p in gke.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") if p.inputs["metadata"]["name"] == "workers"]
    (rule,) = workers.inputs["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8080}]
    (peer,) = rule["from"]
    assert peer["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "collector"}}
    assert peer["namespaceSelector"]["matchExpressions"][0]["values"] == ["gke-gmp-system", "gmp-system"]


def test_the_alerts_select_the_namespace_and_no_workload_writes_metrics(gke: ProgramRun) -> None:
    policies = {p.name: p for p in gke.of_type("gcp:monitoring/alertPolicy:AlertPolicy")}
    assert "alert-Api5xxRatioHigh" not in policies  # Cloud Run's request metrics: none on GKE
    query = policies["alert-QueueBacklogOld"].inputs["conditions"][0]["conditionPrometheusQueryLanguage"]["query"]
    assert 'namespace="celery"' in query
    # Managed Prometheus's collectors write the series; the workloads' accounts need no role.
    assert not [m for m in gke.of_type("gcp:projects/iAMMember:IAMMember") if m.inputs["role"] == "roles/monitoring.metricWriter"]


def test_promtool_accepts_the_gke_rules(tmp_path: Path) -> None:
    alerts = alert_rules(DEFAULT_THRESHOLDS, GKE_TARGETS)
    rules = write_rules(tmp_path / "rules.yaml", alerts)
    checked = subprocess.run([promtool(), "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    exprs = [rule["expr"] for group in yaml.safe_load(rules.read_text())["groups"] for rule in group["rules"]]
    assert all("namespace=~" not in e for e in exprs) and any('namespace="celery"' in e for e in exprs)
