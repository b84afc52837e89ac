"""One tick of a schedule from a Kubernetes CronJob: ``python -m api.cron_tick`` (docs/kubernetes.md).

On ``platform: gke`` with a private API, Cloud Scheduler cannot reach the API, so each schedule
is a CronJob whose pod (this module, in the API image) posts the tick to the API's in-cluster
Service exactly as Cloud Scheduler would (docs/schedules.md):

- a Google ID token for the API's audience, fetched from the GKE metadata server as the pod's
  own Google service account (Workload Identity); the API accepts that account's tokens
  (``SCHEDULER_CALLERS``);
- ``X-CloudScheduler-JobName`` (the schedule's job name, as on Cloud Run) and
  ``X-CloudScheduler-ScheduleTime``, from which the API derives the tick's idempotency key.

The schedule time is read from the Job's name: the CronJob controller names every Job
``<cronjob>-<scheduled time in minutes since the epoch>`` (``getJobName`` in Kubernetes'
``pkg/controller/cronjob/utils.go``), so every retry of a tick (a new pod of the same Job) sends
the same key, and the API enqueues the tick once. Exit status 0 only on a 2xx answer; otherwise
the Job retries (``backoffLimit``).

Standard library only: it runs before anything else of the API is configured.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

# The GKE metadata server (Workload Identity): an ID token of the pod's Google service account.
DEFAULT_IDENTITY_URL = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/identity"
REQUIRED = ("TICK_URL", "TICK_AUDIENCE", "TICK_SCHEDULER_JOB", "TICK_JOB_NAME")


class TickError(Exception):
    """A tick that cannot be sent; the message names the cause and the fix."""


@dataclass(frozen=True)
class Tick:
    url: str
    audience: str
    scheduler_job: str
    job_name: str
    payload: bytes
    timeout_seconds: float
    identity_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Tick:
        missing = [name for name in REQUIRED if not env.get(name)]
        if missing:
            raise TickError(f"{', '.join(missing)} not set: the CronJob's container sets them (infra/kubernetes/cron_jobs.py)")
        payload = env.get("TICK_PAYLOAD", "{}")
        try:
            json.loads(payload)
        except ValueError as exc:
            raise TickError(f"TICK_PAYLOAD is not JSON ({exc}); it is the schedule's payload") from exc
        return cls(
            url=env["TICK_URL"],
            audience=env["TICK_AUDIENCE"],
            scheduler_job=env["TICK_SCHEDULER_JOB"],
            job_name=env["TICK_JOB_NAME"],
            payload=payload.encode(),
            timeout_seconds=float(env.get("TICK_TIMEOUT_SECONDS", "30")),
            identity_url=env.get("TICK_IDENTITY_URL", DEFAULT_IDENTITY_URL),
        )


def schedule_time(job_name: str) -> str:
    """The tick's time from its Job's name, ``<cronjob>-<minutes since the epoch>``, as RFC 3339."""
    suffix = job_name.rsplit("-", 1)[-1]
    if not suffix.isdigit():
        raise TickError(
            f"job name {job_name!r} does not end in the scheduled minute: TICK_JOB_NAME must be the "
            "Job's name (label batch.kubernetes.io/job-name) of a Job its CronJob created"
        )
    return dt.datetime.fromtimestamp(int(suffix) * 60, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def id_token(tick: Tick) -> str:
    query = urllib.parse.urlencode({"audience": tick.audience, "format": "full"})
    request = urllib.request.Request(f"{tick.identity_url}?{query}", headers={"Metadata-Flavor": "Google"})
    try:
        with urllib.request.urlopen(request, timeout=tick.timeout_seconds) as response:
            return str(response.read().decode().strip())
    except (urllib.error.URLError, OSError) as exc:
        raise TickError(
            f"no ID token from the metadata server ({exc}): the pod needs Workload Identity (its KSA "
            "annotated with the scheduler's Google service account) and egress to 169.254.169.254"
        ) from exc


def post(tick: Tick) -> tuple[int, str]:
    request = urllib.request.Request(
        tick.url,
        data=tick.payload,
        method="POST",
        headers={
            "Authorization": f"Bearer {id_token(tick)}",
            "Content-Type": "application/json",
            "X-CloudScheduler-JobName": tick.scheduler_job,
            "X-CloudScheduler-ScheduleTime": schedule_time(tick.job_name),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=tick.timeout_seconds) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()
    except (urllib.error.URLError, OSError) as exc:
        raise TickError(f"the API did not answer at {tick.url} ({exc}); the Job retries") from exc


def main(env: Mapping[str, str] = os.environ) -> int:
    try:
        tick = Tick.from_env(env)
        status, body = post(tick)
    except TickError as exc:
        print(json.dumps({"message": f"tick not sent: {exc}", "severity": "ERROR"}), flush=True)
        return 1
    ok = 200 <= status < 300
    print(
        json.dumps(
            {
                "message": f"tick {tick.scheduler_job} @ {schedule_time(tick.job_name)} -> {status}",
                "severity": "INFO" if ok else "ERROR",
                "response": body[:2000],
            }
        ),
        flush=True,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
