"""``promtool test rules`` on the rendered rules file: each alert fires on a bad series and stays quiet
on a healthy one. Google's system metrics appear under Cloud Monitoring's PromQL names."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.monitoring.rules import DEFAULT_THRESHOLDS, TARGETS, alert_rules, expected_alert, promtool, write_rules

ALERTS = {alert.name: alert for alert in alert_rules(DEFAULT_THRESHOLDS, TARGETS)}
WORKER = 'namespace="celery-dev-worker-fast",instance="w1:8080"'
WORKER_2 = 'namespace="celery-dev-worker-bulk",instance="w2:8080"'
API_NS = 'namespace="celery-dev-api",instance="a1:8080"'
RUN_API = 'monitored_resource="cloud_run_revision",service_name="celery-dev-api"'
REDIS = 'monitored_resource="redis_instance",instance_id="projects/p/locations/europe-west1/instances/celery-dev-broker"'
OTHER_REDIS = 'monitored_resource="redis_instance",instance_id="projects/p/locations/europe-west1/instances/other-broker"'


@dataclass(frozen=True)
class Case:
    alert: str
    what: str
    series: dict[str, str]  # series selector -> promtool values
    eval_minutes: int
    fires_with: list[dict[str, str]]  # label sets (without severity); [] = stays quiet


CASES = [
    Case("QueueBacklogOld", "oldest task waits 15 min", {
        f'cloudrun_celery_queue_oldest_message_age_seconds{{{WORKER},queue="default"}}': "0+60x20",
        f'cloudrun_celery_queue_oldest_message_age_seconds{{{API_NS},queue="default"}}': "0+30x20",
    }, 15, [{"queue": "default"}]),
    Case("QueueBacklogOld", "two exporters at 400 s: max, not sum", {
        f'cloudrun_celery_queue_oldest_message_age_seconds{{{WORKER},queue="default"}}': "400x20",
        f'cloudrun_celery_queue_oldest_message_age_seconds{{{WORKER_2},queue="default"}}': "400x20",
    }, 15, []),
    Case("QueueBacklogGrowing", "depth rises for 30 min", {
        f'cloudrun_celery_queue_depth{{{WORKER},queue="low"}}': "0+10x40",
    }, 30, [{"queue": "low"}]),
    Case("QueueBacklogGrowing", "steady backlog that drains as fast as it fills", {
        f'cloudrun_celery_queue_depth{{{WORKER},queue="low"}}': "50x40",
    }, 30, []),
    Case("QueueWithoutConsumer", "tasks in low, only high and default consumed", {
        f'cloudrun_celery_queue_depth{{{WORKER},queue="low"}}': "5x30",
        f'cloudrun_celery_worker_consuming{{{WORKER},queue="high"}}': "1x30",
        f'cloudrun_celery_worker_consuming{{{WORKER},queue="default"}}': "1x30",
    }, 20, [{"queue": "low"}]),
    Case("QueueWithoutConsumer", "the only consumer is reconnecting (0)", {
        f'cloudrun_celery_queue_depth{{{WORKER},queue="low"}}': "5x30",
        f'cloudrun_celery_worker_consuming{{{WORKER_2},queue="low"}}': "0x30",
    }, 20, [{"queue": "low"}]),
    Case("QueueWithoutConsumer", "a consumer arrives within noConsumerSeconds (cold start)", {
        f'cloudrun_celery_queue_depth{{{WORKER},queue="low"}}': "5x30",
        f'cloudrun_celery_worker_consuming{{{WORKER_2},queue="low"}}': "_x6 1x24",
    }, 20, []),
    Case("TaskFailureRatioHigh", "10% of flaky fails", {
        f'cloudrun_celery_task_executions_total{{{WORKER},task="flaky",outcome="failure"}}': "0+10x30",
        f'cloudrun_celery_task_executions_total{{{WORKER},task="flaky",outcome="success"}}': "0+90x30",
        f'cloudrun_celery_task_executions_total{{{WORKER},task="add",outcome="success"}}': "0+100x30",
    }, 20, [{"task": "flaky"}]),
    Case("TaskFailureRatioHigh", "1% fails", {
        f'cloudrun_celery_task_executions_total{{{WORKER},task="flaky",outcome="failure"}}': "0+1x30",
        f'cloudrun_celery_task_executions_total{{{WORKER},task="flaky",outcome="success"}}': "0+99x30",
    }, 20, []),
    Case("Api5xxRatioHigh", "5% of the API's responses are 5xx", {
        f'run_googleapis_com:request_count{{{RUN_API},response_code_class="5xx"}}': "0+5x30",
        f'run_googleapis_com:request_count{{{RUN_API},response_code_class="2xx"}}': "0+95x30",
    }, 20, [{}]),
    Case("Api5xxRatioHigh", "0.5% 5xx on the API; another service's 5xx do not count", {
        f'run_googleapis_com:request_count{{{RUN_API},response_code_class="5xx"}}': "0+1x30",
        f'run_googleapis_com:request_count{{{RUN_API},response_code_class="2xx"}}': "0+199x30",
        'run_googleapis_com:request_count{monitored_resource="cloud_run_revision",'
        'service_name="celery-dev-worker-fast",response_code_class="5xx"}': "0+100x30",
    }, 20, []),
    Case("RedisMemoryHigh", "85% of maxmemory", {
        f"redis_googleapis_com:stats_memory_usage_ratio{{{REDIS}}}": "0.85x20",
    }, 10, [{}]),
    Case("RedisMemoryHigh", "50%, while another stack's Redis is at 90%", {
        f"redis_googleapis_com:stats_memory_usage_ratio{{{REDIS}}}": "0.5x20",
        f"redis_googleapis_com:stats_memory_usage_ratio{{{OTHER_REDIS}}}": "0.9x20",
    }, 10, []),
    Case("RedisRefusingWrites", "memory at maxmemory (noeviction)", {
        f"redis_googleapis_com:stats_memory_usage_ratio{{{REDIS}}}": "0.995x10",
    }, 5, [{}]),
    Case("RedisRefusingWrites", "submissions fail while Redis answers reads", {
        f'cloudrun_celery_task_submission_failures_total{{{API_NS},task="add",queue="high",reason="broker_unavailable"}}':
            "0+5x10",
        f"cloudrun_celery_broker_up{{{WORKER}}}": "1x10",
    }, 8, [{}]),
    Case("RedisRefusingWrites", "the API answers 429: Redis at its memory high-water mark", {
        f'cloudrun_celery_task_submission_failures_total{{{API_NS},task="add",queue="high",reason="backpressure"}}':
            "0+5x10",
        f"cloudrun_celery_broker_up{{{API_NS}}}": "1x10",
    }, 8, [{}]),
    Case("RedisRefusingWrites", "submissions fail because Redis is unreachable (BrokerUnreachable's case)", {
        f'cloudrun_celery_task_submission_failures_total{{{API_NS},task="add",queue="high",reason="broker_unavailable"}}':
            "0+5x10",
        f"cloudrun_celery_broker_up{{{WORKER}}}": "0x10",
        f"redis_googleapis_com:stats_memory_usage_ratio{{{REDIS}}}": "0.9x10",
    }, 8, []),
    Case("BrokerUnreachable", "no exporter reads Redis", {
        f"cloudrun_celery_broker_up{{{WORKER}}}": "0x10",
        f"cloudrun_celery_broker_up{{{WORKER_2}}}": "0x10",
    }, 5, [{}]),
    Case("BrokerUnreachable", "one exporter's network is down, the other reads Redis", {
        f"cloudrun_celery_broker_up{{{WORKER}}}": "0x10",
        f"cloudrun_celery_broker_up{{{WORKER_2}}}": "1x10",
    }, 5, []),
    Case("QueueMetricsAbsent", "no exporter reports at all", {
        'cloudrun_celery_worker_consuming{namespace="other-app",queue="x"}': "1x20",
    }, 15, [{}]),
    Case("QueueMetricsAbsent", "workers report", {
        f"cloudrun_celery_broker_up{{{WORKER}}}": "1x20",
    }, 15, []),
    Case("DeadLettersGrowing", "a task failed for good", {
        f"cloudrun_celery_dead_letters{{{WORKER}}}": "0x5 1x10",
    }, 8, [{}]),
    Case("DeadLettersGrowing", "dead letters present but not growing", {
        f"cloudrun_celery_dead_letters{{{WORKER}}}": "3x20",
    }, 15, []),
]


def _test_group(case: Case) -> dict[str, Any]:
    alert = ALERTS[case.alert]
    return {
        "name": f"{case.alert}: {case.what}",
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
        "alert_rule_test": [
            {
                "eval_time": f"{case.eval_minutes}m",
                "alertname": case.alert,
                "exp_alerts": [expected_alert(alert, **labels) for labels in case.fires_with],
            }
        ],
    }


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    for name in ALERTS:
        cases = [c for c in CASES if c.alert == name]
        assert any(c.fires_with for c in cases), f"{name} has no case where it fires"
        assert any(not c.fires_with for c in cases), f"{name} has no case where it stays quiet"


def test_promtool_checks_the_rendered_rules(tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "rules.yaml", list(ALERTS.values()))
    checked = subprocess.run([promtool(), "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tests = tmp_path / "tests.yaml"
    tests.write_text(
        yaml.safe_dump(
            {
                "rule_files": [rules.name],
                "evaluation_interval": "1m",
                "tests": [_test_group(case) for case in CASES],
            },
            sort_keys=False,
        )
    )
    result = subprocess.run(
        [promtool(), "test", "rules", str(tests)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_operations_doc_explains_every_alert() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    for name, alert in ALERTS.items():
        assert f"\n### {name}\n" in doc, f"docs/operations.md has no section for {name}"
        section = doc.split(f"\n### {name}\n", 1)[1].split("\n### ", 1)[0]
        assert "**First check:**" in section, f"{name}: say what to check first"
        assert alert.runbook == f"docs/operations.md#{name.lower()}"
    assert (Path(__file__).resolve().parents[2] / "docs" / "images" / "prometheus-alerts.png").stat().st_size > 10_000
