"""The alerts as a Prometheus rules file, the same PromQL the alert policies run.

``promtool test rules`` checks this file against synthetic series (tests/monitoring/), and a
local Prometheus loads it (``make dev`` users can point one at it too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitoring.alerts import EVALUATION_INTERVAL_SECONDS, Alert

RULE_GROUP = "cloudrun-celery"


def rules_document(alerts: Sequence[Alert], interval_seconds: int = EVALUATION_INTERVAL_SECONDS) -> dict[str, Any]:
    """A rules file as a dict, ready for ``yaml.safe_dump``."""
    return {
        "groups": [
            {
                "name": RULE_GROUP,
                "interval": f"{interval_seconds}s",
                "rules": [
                    {
                        "alert": alert.name,
                        "expr": alert.expr,
                        "for": f"{alert.for_seconds}s",
                        "labels": {"severity": alert.severity},
                        "annotations": {"summary": alert.summary, "runbook": alert.runbook},
                    }
                    for alert in alerts
                ],
            }
        ]
    }
