"""``monitoring``: alert thresholds, where alerts go, the metrics collector image, an optional budget.

The alerts themselves (their PromQL) live in ``infra/monitoring/alerts.py``; this module only
reads and checks the numbers they use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .reader import ConfigReader
from .services import ContainerSize

MONITORING_KEYS = frozenset(
    {
        "notificationEmails",
        "collectorImage",
        "backlogAgeSeconds",
        "backlogGrowingSeconds",
        "noConsumerSeconds",
        "taskFailureRatio",
        "api5xxRatio",
        "redisMemoryRatio",
        "budget",
    }
)
BUDGET_KEYS = frozenset({"billingAccount", "amount", "currency", "thresholds"})

# Managed Service for Prometheus's collector for Cloud Run (services and worker pools), pinned by
# digest; docs/pins.md says where the pin comes from and how to move it.
DEFAULT_COLLECTOR_IMAGE = (
    "us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar"
    "@sha256:f782d8c67ad3f0e54d791fbf7cc6c8d36bc9e15c4b68d8b38ef372674defe452"
)
# The collector container's limits, in every service and worker pool that has one (the API, each
# worker group, Flower); each instance is billed for them too (docs/cost.md).
COLLECTOR_SIZE = ContainerSize("0.25", "256Mi")
DIGEST_IMAGE_RE = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
BILLING_ACCOUNT_RE = re.compile(r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
MAX_BUDGET_CHANNELS = 5

# "A queue has tasks and no consumer" must not page while a worker group is scaling up from
# zero: the autoscaler's polling interval (autoscaler.pollingIntervalSeconds, when a group
# autoscales), a new instance's start before its probe runs, and the worker's start-up budget,
# its startup probe (18 failures x 10 s, infra/cloudrun/worker_service.py). docs/operations.md.
INSTANCE_START_SECONDS = 60
WORKER_STARTUP_SECONDS = 180


def scale_up_allowance_seconds(autoscaler_polling_seconds: int) -> int:
    return autoscaler_polling_seconds + INSTANCE_START_SECONDS + WORKER_STARTUP_SECONDS


@dataclass(frozen=True)
class AlertThresholds:
    backlog_age_seconds: int
    backlog_growing_seconds: int
    no_consumer_seconds: int
    task_failure_ratio: float
    api_5xx_ratio: float
    redis_memory_ratio: float


@dataclass(frozen=True)
class BudgetSettings:
    billing_account: str
    amount: int
    currency: str
    thresholds: tuple[float, ...]


@dataclass(frozen=True)
class MonitoringSettings:
    notification_emails: tuple[str, ...]
    collector_image: str
    thresholds: AlertThresholds
    budget: BudgetSettings | None


def read_monitoring(reader: ConfigReader, autoscaler_polling_seconds: int) -> MonitoringSettings:
    """``autoscaler_polling_seconds``: the autoscaler's polling interval, 0 when no group autoscales."""
    cfg = reader.section("monitoring", MONITORING_KEYS)
    no_consumer = reader.integer(
        "monitoring.noConsumerSeconds", cfg.get("noConsumerSeconds"), 600, 60, 86_400
    )
    allowance = scale_up_allowance_seconds(autoscaler_polling_seconds)
    if no_consumer <= allowance:
        reader.fail(
            "monitoring.noConsumerSeconds",
            no_consumer,
            f"more than {allowance} (autoscaler polling {autoscaler_polling_seconds} s + instance start "
            f"{INSTANCE_START_SECONDS} s + worker start-up {WORKER_STARTUP_SECONDS} s), or a worker group "
            "scaling up from zero pages on every cold start; raise it, or lower autoscaler.pollingIntervalSeconds",
        )
    thresholds = AlertThresholds(
        backlog_age_seconds=reader.integer(
            "monitoring.backlogAgeSeconds", cfg.get("backlogAgeSeconds"), 600, 30, 86_400
        ),
        backlog_growing_seconds=reader.integer(
            "monitoring.backlogGrowingSeconds", cfg.get("backlogGrowingSeconds"), 900, 120, 86_400
        ),
        no_consumer_seconds=no_consumer,
        task_failure_ratio=_ratio(reader, "monitoring.taskFailureRatio", cfg.get("taskFailureRatio"), 0.05),
        api_5xx_ratio=_ratio(reader, "monitoring.api5xxRatio", cfg.get("api5xxRatio"), 0.02),
        redis_memory_ratio=_ratio(
            reader, "monitoring.redisMemoryRatio", cfg.get("redisMemoryRatio"), 0.8, high=0.95
        ),
    )
    image = reader.text(
        "monitoring.collectorImage",
        cfg.get("collectorImage"),
        DEFAULT_COLLECTOR_IMAGE,
        DIGEST_IMAGE_RE,
        "an image pinned by digest, REPO@sha256:<64 hex> (a tag alone can be moved)",
    )
    emails = _emails(reader, cfg.get("notificationEmails"))
    budget = _budget(reader, cfg.get("budget"))
    if budget is not None and len(emails) > MAX_BUDGET_CHANNELS:
        reader.fail(
            "monitoring.notificationEmails",
            list(emails),
            f"at most {MAX_BUDGET_CHANNELS} addresses with monitoring.budget (a budget notifies at most "
            f"{MAX_BUDGET_CHANNELS} channels); use a group address",
        )
    return MonitoringSettings(
        notification_emails=emails,
        collector_image=image,
        thresholds=thresholds,
        budget=budget,
    )


def _ratio(reader: ConfigReader, key: str, value: Any, default: float, high: float = 1.0) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or not 0.0 < number < high:
        reader.fail(key, value, f"a number greater than 0 and less than {high}")
        return default
    return number


def _emails(reader: ConfigReader, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        reader.fail("monitoring.notificationEmails", value, "a list of e-mail addresses")
        return ()
    emails: list[str] = []
    for index, email in enumerate(value):
        if not isinstance(email, str) or not EMAIL_RE.fullmatch(email):
            reader.fail(f"monitoring.notificationEmails[{index}]", email, "an e-mail address such as ops@example.com")
        elif email in emails:
            reader.fail(f"monitoring.notificationEmails[{index}]", email, "each address once")
        else:
            emails.append(email)
    return tuple(emails)


def _budget(reader: ConfigReader, value: Any) -> BudgetSettings | None:
    if value is None:
        return None
    cfg = reader.object("monitoring.budget", BUDGET_KEYS, value)
    if not cfg:
        return None
    account = cfg.get("billingAccount")
    if account is None:
        reader.fail("monitoring.budget.billingAccount", None, "your billing account id, XXXXXX-XXXXXX-XXXXXX")
    account = reader.text(
        "monitoring.budget.billingAccount", account, "", BILLING_ACCOUNT_RE, "a billing account id, XXXXXX-XXXXXX-XXXXXX"
    )
    amount = cfg.get("amount")
    if amount is None:
        reader.fail("monitoring.budget.amount", None, "the monthly budget, a whole number of currency units")
    amount_value = reader.integer("monitoring.budget.amount", amount, 0, 1, 10_000_000)
    raw_thresholds = cfg.get("thresholds", [0.5, 0.9, 1.0])
    thresholds: list[float] = []
    if not isinstance(raw_thresholds, list) or not raw_thresholds:
        reader.fail("monitoring.budget.thresholds", raw_thresholds, "a non-empty list of fractions such as [0.5, 0.9, 1.0]")
    else:
        for index, item in enumerate(raw_thresholds):
            thresholds.append(_ratio(reader, f"monitoring.budget.thresholds[{index}]", item, 1.0, high=10.0))
    return BudgetSettings(
        billing_account=account,
        amount=amount_value,
        currency=reader.text("monitoring.budget.currency", cfg.get("currency"), "USD", CURRENCY_RE, "an ISO 4217 code such as USD"),
        thresholds=tuple(sorted(set(thresholds))),
    )
