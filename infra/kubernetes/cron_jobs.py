"""Schedules on GKE with a private API: one CronJob per schedule, posting to the API's Service.

Cloud Scheduler cannot reach an internal load balancer, so a private API's schedules run in the
cluster. Each tick is a Job whose pod runs ``python -m api.cron_tick`` from the API image
(services/api/api/cron_tick.py): it fetches a Google ID token as the stack's scheduler account
(Workload Identity; the API lists it in ``SCHEDULER_CALLERS``) and posts with the same
``X-CloudScheduler-*`` headers as Cloud Scheduler, so the API's exactly-once key is the same.
The schedule time comes from the Job's name (the controller's ``<cronjob>-<minute>``), so every
retry of a tick carries the same key.

Cloud Scheduler's retry settings map onto the Job: ``backoffLimit`` = ``scheduler.retryCount``,
``activeDeadlineSeconds`` = the retry window, each request's timeout = the attempt deadline.
"""

from __future__ import annotations

import json
from typing import Any

from settings.schedules import CRON_STARTING_DEADLINE_SECONDS, Schedule, SchedulerRetry
from task_contract import deployment as contract

from kubernetes.manifests import CONTAINER_SECURITY, POD_SECURITY, TMP_VOLUME, Manifest

SCHEDULER_ROLE = "scheduler"
SCHEDULER_KSA = "scheduler"
TICK_COMMAND = ["/opt/venv/bin/python", "-m", "api.cron_tick"]
# The CronJob controller's own label on a Job's pods: the Job's name, <cronjob>-<minute>.
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
TICK_RESOURCES = {"cpu": "250m", "memory": "256Mi"}


def cron_job_name(schedule: Schedule) -> str:
    # A CronJob's name is at most 52 characters (its Jobs add "-<minute>"); a schedule's is at most 40.
    return f"schedule-{schedule.name}"


def scheduler_labels() -> dict[str, str]:
    return {contract.APP_LABEL: contract.APP_NAME, contract.ROLE_LABEL: SCHEDULER_ROLE}


def cron_job(
    schedule: Schedule,
    *,
    namespace: str,
    image: Any,
    api_url: str,
    audience: Any,
    scheduler_job: str,
    retry: SchedulerRetry,
) -> Manifest:
    """``scheduler_job`` is the name Cloud Scheduler's job would have (``<namePrefix>-<name>``)."""
    env = [
        {"name": "TICK_URL", "value": f"{api_url}/v1/tasks/{schedule.task}"},
        {"name": "TICK_AUDIENCE", "value": audience},
        {"name": "TICK_SCHEDULER_JOB", "value": scheduler_job},
        {"name": "TICK_PAYLOAD", "value": json.dumps(schedule.payload, sort_keys=True)},
        {"name": "TICK_TIMEOUT_SECONDS", "value": str(retry.attempt_deadline_seconds)},
        {"name": "TICK_JOB_NAME", "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{JOB_NAME_LABEL}']"}}},
    ]
    pod = {
        "serviceAccountName": SCHEDULER_KSA,
        # The token comes from the GKE metadata server; the pod never talks to the Kubernetes API.
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        "securityContext": POD_SECURITY,
        "containers": [
            {
                "name": "tick",
                "image": image,
                "command": TICK_COMMAND,
                "env": env,
                "resources": {"requests": TICK_RESOURCES, "limits": TICK_RESOURCES},
                "securityContext": CONTAINER_SECURITY,
                "volumeMounts": [{"name": TMP_VOLUME, "mountPath": "/tmp"}],
            }
        ],
        "volumes": [{"name": TMP_VOLUME, "emptyDir": {"sizeLimit": "16Mi"}}],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": cron_job_name(schedule), "namespace": namespace, "labels": scheduler_labels()},
        "spec": {
            "schedule": schedule.cron,
            "timeZone": schedule.time_zone,
            # One tick at a time; a tick still retrying when the next is due makes the next wait.
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": CRON_STARTING_DEADLINE_SECONDS,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": retry.retry_count,
                    "activeDeadlineSeconds": retry.retry_window_seconds,
                    "ttlSecondsAfterFinished": 86400,
                    "template": {"metadata": {"labels": scheduler_labels()}, "spec": pod},
                }
            },
        },
    }

