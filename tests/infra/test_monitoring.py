"""The Monitoring component under mocks: collector sidecars, metricWriter grants, alert policies
rendered from infra/monitoring/alerts.py, dashboard, channels, budget, and bad monitoring config."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.harness import ProgramError, ProgramRun, run_program_full
from tests.monitoring.rules import TARGETS  # noqa: F401  (puts infra/ on sys.path)

from monitoring.alerts import alert_rules  # noqa: E402  isort: skip
from settings.monitoring import DEFAULT_COLLECTOR_IMAGE, WORKER_STARTUP_SECONDS  # noqa: E402  isort: skip

SERVICE = "gcp:cloudrunv2/service:Service"
WORKER_POOL = "gcp:cloudrunv2/workerPool:WorkerPool"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
BUDGET = {"billingAccount": "01ABCD-23EF45-6789AB", "amount": 200}


def test_every_workload_runs_the_collector_and_may_write_metrics(stack_run: ProgramRun) -> None:
    # The autoscaler (CREMA, label role=autoscaler) is not ours: it serves no /metrics to collect,
    # and its one project grant is the conditioned parameterViewer (tests/policy/test_no_project_wide_iam.py).
    workloads = [
        w
        for w in [*stack_run.of_type(SERVICE), *stack_run.of_type(WORKER_POOL)]
        if (w.inputs.get("labels") or {}).get("role") != "autoscaler"
    ]
    assert workloads
    for workload in workloads:
        serving, collector = workload.inputs["template"]["containers"]
        assert collector["name"] == "collector"
        assert collector["image"] == DEFAULT_COLLECTOR_IMAGE
        assert collector["dependsOns"] == [serving["name"]]
        assert "ports" not in collector  # only the serving container takes requests
        if serving["name"] == "worker":
            env = {e["name"]: e.get("value") for e in serving["envs"]}
            mounts = {m["name"]: m["mountPath"] for m in serving["volumeMounts"]}
            volumes = {v["name"]: v for v in workload.inputs["template"]["volumes"]}
            assert mounts["prometheus-multiproc"] == env["PROMETHEUS_MULTIPROC_DIR"]
            assert volumes["prometheus-multiproc"]["emptyDir"]["medium"] == "MEMORY"
    accounts = [a for a in stack_run.of_type("gcp:serviceaccount/account:Account") if a.name not in ("autoscaler", "scheduler")]
    grants = [
        g
        for g in stack_run.of_type("gcp:projects/iAMMember:IAMMember")
        if g.inputs["role"] != "roles/parametermanager.parameterViewer"
    ]
    assert sorted(g.inputs["member"] for g in grants) == sorted(
        f"serviceAccount:{a.inputs['accountId']}@{a.inputs['project']}.iam.gserviceaccount.com" for a in accounts
    )
    assert {g.inputs["role"] for g in grants} == {"roles/monitoring.metricWriter"}


def test_alert_policies_carry_the_one_promql_of_each_alert(stack_run: ProgramRun) -> None:
    policies = {p.inputs["conditions"][0]["conditionPrometheusQueryLanguage"]["alertRule"]: p
                for p in stack_run.of_type(POLICY)}
    prefix = "celery-dev" if stack_run.stack == "dev" else "celery-prod"
    for _name, policy in policies.items():
        condition = policy.inputs["conditions"][0]["conditionPrometheusQueryLanguage"]
        assert f'namespace=~"{prefix}-.*"' in condition["query"] or "googleapis_com" in condition["query"]
        assert condition["ruleGroup"] == "cloudrun-celery"
    assert set(policies) == {
        "QueueBacklogOld", "QueueBacklogGrowing", "QueueWithoutConsumer", "TaskFailureRatioHigh",
        "Api5xxRatioHigh", "RedisMemoryHigh", "RedisRefusingWrites", "BrokerUnreachable",
        "QueueMetricsAbsent", "DeadLettersGrowing",
    }
    # No alert policy anywhere else: alerts.py is the one home of the conditions.
    assert all(p.parent_type == "cloudrun-celery:infra:Monitoring" for p in stack_run.of_type(POLICY))
    assert alert_rules  # the rules file in tests/monitoring renders the same list


def test_thresholds_and_channels_come_from_config() -> None:
    run = run_program_full("dev", {"monitoring": {"notificationEmails": ["a@example.com", "b@example.com"],
                                                   "backlogAgeSeconds": 120, "noConsumerSeconds": 900}})
    channels = run.of_type("gcp:monitoring/notificationChannel:NotificationChannel")
    assert sorted(c.inputs["labels"]["email_address"] for c in channels) == ["a@example.com", "b@example.com"]
    policies = {p.name: p for p in run.of_type(POLICY)}
    old = policies["alert-QueueBacklogOld"].inputs
    assert old["conditions"][0]["conditionPrometheusQueryLanguage"]["query"].endswith("> 120")
    assert len(old["notificationChannels"]) == 2
    no_consumer = policies["alert-QueueWithoutConsumer"].inputs["conditions"][0]["conditionPrometheusQueryLanguage"]
    assert no_consumer["duration"] == "900s"
    assert run.of_type("gcp:billing/budget:Budget") == []


def test_dashboard_shows_what_an_operator_asks(stack_run: ProgramRun) -> None:
    (dashboard,) = stack_run.of_type("gcp:monitoring/dashboard:Dashboard")
    tiles = json.loads(dashboard.inputs["dashboardJson"])["mosaicLayout"]["tiles"]
    text = json.dumps(tiles)
    for needle in ("max by (queue) (cloudrun_celery_queue_depth", "cloudrun_celery_task_executions_total",
                   "run_googleapis_com:request_count", "request_latencies_bucket", "container_instance_count",
                   "stats_memory_usage_ratio", "clients_connected", "stats_evicted_keys",
                   "cloudrun_celery_dead_letters"):
        assert needle in text, needle
    assert "sum by (queue) (cloudrun_celery_queue_depth" not in text  # global gauge: max, never sum


def test_optional_budget_notifies_the_channels() -> None:
    run = run_program_full("dev", {"monitoring": {"notificationEmails": ["a@example.com"], "budget": BUDGET}})
    (budget,) = run.of_type("gcp:billing/budget:Budget")
    assert budget.inputs["billingAccount"] == BUDGET["billingAccount"]
    assert budget.inputs["amount"] == {"specifiedAmount": {"currencyCode": "USD", "units": "200"}}
    assert [r["thresholdPercent"] for r in budget.inputs["thresholdRules"]] == [0.5, 0.9, 1.0]
    assert budget.inputs["budgetFilter"] == {"projects": ["projects/123456789012"]}
    assert len(budget.inputs["allUpdatesRule"]["monitoringNotificationChannels"]) == 1
    apis = {s.inputs["service"] for s in run.of_type("gcp:projects/service:Service")}
    assert "billingbudgets.googleapis.com" in apis


def test_no_consumer_window_outlasts_the_scale_up_allowance_of_the_worker_probe(stack_run: ProgramRun) -> None:
    # The allowance assumes the worker's startup probe budget; a change there must move it.
    for workload in [*stack_run.of_type(SERVICE), *stack_run.of_type(WORKER_POOL)]:
        serving = workload.inputs["template"]["containers"][0]
        if serving["name"] == "worker":
            probe = serving["startupProbe"]
            assert probe["failureThreshold"] * probe["periodSeconds"] <= WORKER_STARTUP_SECONDS


def test_no_consumer_window_is_checked_against_the_autoscalers_polling_interval() -> None:
    # prod autoscales `bulk` from zero: a slow autoscaler poll eats the default 600 s window.
    with pytest.raises(ProgramError) as failure:
        run_program_full("prod", {"autoscaler": {"pollingIntervalSeconds": 400}})
    assert "monitoring.noConsumerSeconds: got 600; allowed: more than 640 (autoscaler polling 400 s" in str(
        failure.value
    )
    run = run_program_full(
        "prod", {"autoscaler": {"pollingIntervalSeconds": 400}, "monitoring": {"noConsumerSeconds": 900}}
    )
    (policy,) = [p for p in run.of_type("gcp:monitoring/alertPolicy:AlertPolicy") if "consumer" in p.name.lower()]
    assert policy.inputs["conditions"][0]["conditionPrometheusQueryLanguage"]["duration"] == "900s"


BAD: dict[str, tuple[dict[str, Any], str]] = {
    "no-consumer window inside the scale-up allowance": (
        {"noConsumerSeconds": 200}, "monitoring.noConsumerSeconds: got 200; allowed: more than 240 (autoscaler polling 0 s"),
    "ratio out of range": ({"taskFailureRatio": 1.5}, "monitoring.taskFailureRatio: got 1.5"),
    "ratio not a number": ({"api5xxRatio": "lots"}, "monitoring.api5xxRatio: got 'lots'"),
    "redis memory ratio too high": ({"redisMemoryRatio": 0.99}, "less than 0.95"),
    "bad e-mail": ({"notificationEmails": ["oncall"]}, "monitoring.notificationEmails[0]: got 'oncall'"),
    "duplicate e-mail": ({"notificationEmails": ["a@example.com", "a@example.com"]}, "each address once"),
    "emails not a list": ({"notificationEmails": "a@example.com"}, "a list of e-mail addresses"),
    "collector by tag only": (
        {"collectorImage": "us-docker.pkg.dev/x/y/z:1.2.0"}, "monitoring.collectorImage: got"),
    "unknown key": ({"alertEmail": "a@example.com"}, "monitoring.alertEmail"),
    "budget without amount": (
        {"budget": {"billingAccount": "01ABCD-23EF45-6789AB"}}, "monitoring.budget.amount: got null"),
    "budget bad account": ({"budget": {**BUDGET, "billingAccount": "acct"}}, "monitoring.budget.billingAccount"),
    "budget too many channels": (
        {"budget": BUDGET, "notificationEmails": [f"{n}@example.com" for n in "abcdef"]}, "at most 5 addresses"),
}


@pytest.mark.parametrize("case", sorted(BAD), ids=lambda c: c.replace(" ", "-"))
def test_bad_monitoring_config_fails_before_any_resource(case: str) -> None:
    monitoring, fragment = BAD[case]
    with pytest.raises(ProgramError) as failure:
        run_program_full("dev", {"monitoring": monitoring})
    assert type(failure.value.original).__name__ == "InvalidConfig", repr(failure.value.original)
    assert fragment in str(failure.value)
    assert failure.value.resources == []
