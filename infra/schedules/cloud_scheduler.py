"""Scheduled tasks: one Cloud Scheduler job per ``schedules`` entry, calling the API's enqueue endpoint.

Every job runs as the stack's scheduler service account and sends a Google-signed OIDC token
whose audience is the API's URL. The API accepts that account's tokens (``SCHEDULER_CALLERS``)
and derives each tick's idempotency key from the ``X-CloudScheduler-*`` headers, so a retried
tick enqueues one task (docs/schedules.md). On a private API (``api.public: false``) Cloud
Run's IAM check runs first: the account gets ``roles/run.invoker`` on the API service only.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
from settings.schedules import Schedule, SchedulerRetry

TASKS_PATH = "/v1/tasks"


def scheduler_account_id(name_prefix: str) -> str:
    return f"{name_prefix}-scheduler"


def scheduler_account_email(name_prefix: str, project: str) -> str:
    """Known before the account exists, so the API's env can name it without a dependency cycle."""
    return f"{scheduler_account_id(name_prefix)}@{project}.iam.gserviceaccount.com"


def cloudrun_api_audience(service_name: str, project_number: pulumi.Input[str], region: str) -> pulumi.Output[str]:
    """The API's deterministic URL, ``https://<service>-<project number>.<region>.run.app``.

    Known before the service exists (its ``uri`` output is not), so it can be both the API's
    own ``GOOGLE_ID_AUDIENCE`` and the jobs' target and audience. Cloud Run serves and accepts
    it like the ``uri`` output.
    """
    return pulumi.Output.concat("https://", service_name, "-", project_number, ".", region, ".run.app")


def gke_api_audience(namespace: str) -> str:
    """On GKE: the API Service's in-cluster URL, where a private API's CronJobs post.

    An audience is only a string both sides agree on; Cloud Scheduler (public API) sends the
    same one to the load balancer's address (docs/kubernetes.md).
    """
    return f"http://api.{namespace}.svc.cluster.local"


def _duration(seconds: int) -> str:
    return f"{seconds}s"


@dataclass(frozen=True)
class ScheduledTasksArgs:
    project: str
    region: str
    name_prefix: str
    schedules: tuple[Schedule, ...]
    retry: SchedulerRetry
    api_url: pulumi.Input[str]
    # The API service's name; None when the API is public (no invoker grant needed).
    private_api_service: pulumi.Input[str] | None
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    # The tokens' audience when it is not ``api_url`` (GKE: the API's in-cluster URL).
    audience: pulumi.Input[str] | None = None


class ScheduledTasks(pulumi.ComponentResource):
    account: gcp.serviceaccount.Account
    jobs: dict[str, gcp.cloudscheduler.Job]

    def __init__(
        self,
        name: str,
        args: ScheduledTasksArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("cloudrun-celery:infra:ScheduledTasks", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        self.account = gcp.serviceaccount.Account(
            "scheduler",
            project=args.project,
            account_id=scheduler_account_id(args.name_prefix),
            display_name="cloudrun-celery Cloud Scheduler jobs (OIDC caller of the API)",
            opts=child,
        )
        member = self.account.email.apply(lambda email: f"serviceAccount:{email}")
        if args.private_api_service is not None:
            # Resource-level: invoker on the API service only, never on the workers or the project.
            gcp.cloudrunv2.ServiceIamMember(
                "scheduler-api-invoker",
                project=args.project,
                location=args.region,
                name=args.private_api_service,
                role="roles/run.invoker",
                member=member,
                opts=pulumi.ResourceOptions(parent=self),
            )
        retry = args.retry
        self.jobs = {
            schedule.name: gcp.cloudscheduler.Job(
                f"schedule-{schedule.name}",
                project=args.project,
                region=args.region,
                name=f"{args.name_prefix}-{schedule.name}",
                description=f"Enqueues task {schedule.task!r} on {schedule.cron!r} ({schedule.time_zone})",
                schedule=schedule.cron,
                time_zone=schedule.time_zone,
                attempt_deadline=_duration(retry.attempt_deadline_seconds),
                retry_config={
                    "retry_count": retry.retry_count,
                    "min_backoff_duration": _duration(retry.min_backoff_seconds),
                    "max_backoff_duration": _duration(retry.max_backoff_seconds),
                    "max_retry_duration": _duration(retry.max_retry_duration_seconds),
                    "max_doublings": 5,
                },
                http_target={
                    "uri": pulumi.Output.concat(args.api_url, f"{TASKS_PATH}/{schedule.task}"),
                    "http_method": "POST",
                    "headers": {"Content-Type": "application/json"},
                    "body": base64.b64encode(json.dumps(schedule.payload, sort_keys=True).encode()).decode(),
                    "oidc_token": {
                        "service_account_email": self.account.email,
                        "audience": args.audience if args.audience is not None else args.api_url,
                    },
                },
                opts=child,
            )
            for schedule in args.schedules
        }
        self.register_outputs(
            {"account": self.account.email, "jobs": {n: j.name for n, j in self.jobs.items()}}
        )
