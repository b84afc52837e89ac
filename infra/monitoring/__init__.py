"""Monitoring: metric writing for each workload, alert policies, the dashboard, an optional budget.

One component for what an operator watches. The alert conditions come from ``alerts.py`` (the
one home of their PromQL); notification channels and thresholds from ``settings.monitoring``.
The collector sidecar that feeds Cloud Monitoring is declared with each workload
(``collector.py``), and writes as that workload's service account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
from settings.monitoring import MonitoringSettings

from monitoring.alerts import EVALUATION_INTERVAL_SECONDS, AlertTargets, alert_rules
from monitoring.dashboard import dashboard_json
from monitoring.rules_file import RULE_GROUP

# Writing time series has no resource-level grant: Cloud Monitoring accepts metricWriter only on
# the project (or folder/organization). It is the one project-level role this stack grants, and
# the policy pack allows exactly this role there (docs/policy.md).
METRIC_WRITER_ROLE = "roles/monitoring.metricWriter"
SEVERITIES = {"page": "CRITICAL", "ticket": "WARNING"}
# An incident closes itself this long after its condition stops holding.
AUTO_CLOSE = "1800s"


@dataclass(frozen=True)
class MonitoringArgs:
    project: str
    stack: str
    settings: MonitoringSettings
    targets: AlertTargets
    # workload name ("api", "worker-fast", ...) -> its service account email
    metric_writers: Mapping[str, pulumi.Input[str]]
    project_number: pulumi.Input[str] | None = None
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Monitoring(pulumi.ComponentResource):
    channels: list[gcp.monitoring.NotificationChannel]
    policies: dict[str, gcp.monitoring.AlertPolicy]
    dashboard: gcp.monitoring.Dashboard
    budget: gcp.billing.Budget | None

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cloudrun-celery:infra:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        settings = args.settings
        for workload, email in sorted(args.metric_writers.items()):
            gcp.projects.IAMMember(
                f"{workload}-metric-writer",
                project=args.project,
                role=METRIC_WRITER_ROLE,
                member=pulumi.Output.from_input(email).apply(lambda e: f"serviceAccount:{e}"),
                opts=child,
            )
        self.channels = [
            gcp.monitoring.NotificationChannel(
                f"email-{index}",
                project=args.project,
                type="email",
                display_name=f"cloudrun-celery {args.stack}: {email}",
                labels={"email_address": email},
                opts=child,
            )
            for index, email in enumerate(settings.notification_emails)
        ]
        channel_ids = [channel.id for channel in self.channels]
        self.policies = {}
        for alert in alert_rules(settings.thresholds, args.targets):
            self.policies[alert.name] = gcp.monitoring.AlertPolicy(
                f"alert-{alert.name}",
                project=args.project,
                display_name=f"[{args.stack}] {alert.title}",
                combiner="OR",
                severity=SEVERITIES[alert.severity],
                conditions=[
                    {
                        "display_name": alert.title,
                        "condition_prometheus_query_language": {
                            "query": alert.expr,
                            "duration": f"{alert.for_seconds}s",
                            "evaluation_interval": f"{EVALUATION_INTERVAL_SECONDS}s",
                            "alert_rule": alert.name,
                            "rule_group": RULE_GROUP,
                            "labels": {"severity": alert.severity},
                        },
                    }
                ],
                documentation={
                    "mime_type": "text/markdown",
                    "subject": f"[{args.stack}] {alert.title}",
                    "content": f"{alert.summary}\n\nWhat to check first: {alert.runbook}",
                },
                alert_strategy={"auto_close": AUTO_CLOSE},
                notification_channels=channel_ids,
                user_labels={"app": "cloudrun-celery", "stack": args.stack},
                opts=child,
            )
        self.dashboard = gcp.monitoring.Dashboard(
            "dashboard",
            project=args.project,
            dashboard_json=dashboard_json(f"cloudrun-celery {args.stack}", args.targets),
            opts=child,
        )
        self.budget = None
        budget = settings.budget
        if budget is not None:
            self.budget = gcp.billing.Budget(
                "budget",
                billing_account=budget.billing_account,
                display_name=f"cloudrun-celery {args.stack}",
                amount={"specified_amount": {"currency_code": budget.currency, "units": str(budget.amount)}},
                budget_filter={"projects": [pulumi.Output.concat("projects/", args.project_number or "")]},
                threshold_rules=[{"threshold_percent": t} for t in budget.thresholds],
                all_updates_rule={"monitoring_notification_channels": channel_ids} if channel_ids else None,
                opts=child,
            )
        self.register_outputs(
            {"dashboard": self.dashboard.id, "policies": {k: p.name for k, p in self.policies.items()}}
        )
