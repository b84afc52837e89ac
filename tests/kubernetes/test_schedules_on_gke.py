"""Scheduled tasks on GKE: Cloud Scheduler for a public API, CronJobs for a private one.

The CronJob's own command (``python -m api.cron_tick``, with the env the program renders) is run
for real against a real API and Redis. The test plays the GKE metadata server (it mints ID tokens
for the scheduler's Google account with a local signing key, scripts/local_scheduler.py) and the
CronJob controller (the Job name ``<cronjob>-<minute>``); the only rewrites are those two URLs and
the in-cluster API address.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest

from scripts.local_scheduler import LocalIdentityProvider
from tests.infra.harness import ProgramError, ProgramRun, run_program_full
from tests.support.api_process import SOURCE_PATHS, ApiProcess
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer, broker_env
from tests.support.worker_process import queue_depth

CRON_JOB = "kubernetes:batch/v1:CronJob"
SCHEDULER = "celery-gke-scheduler@my-gcp-project-gke.iam.gserviceaccount.com"
MINUTE = 29_418_000  # 2025-12-08T00:00:00Z in minutes since the epoch


@pytest.fixture(scope="module")
def private(gke: ProgramRun) -> ProgramRun:
    return gke  # Pulumi.gke.yaml ships a private API (docs/kubernetes.md, "The way in")


@pytest.fixture(scope="module")
def public() -> ProgramRun:
    return run_program_full("gke", {"api": {"public": True, "minInstances": 1, "maxInstances": 4}})


def test_a_public_api_takes_cloud_scheduler_jobs(public: ProgramRun) -> None:
    (job,) = public.of_type("gcp:cloudscheduler/job:Job")
    target = job.inputs["httpTarget"]
    # The load balancer's address, with the in-cluster audience the API checks.
    assert target["uri"] == "http://203.0.113.30/v1/tasks/add"
    assert target["oidcToken"] == {"serviceAccountEmail": SCHEDULER, "audience": "http://api.celery.svc.cluster.local"}
    assert not public.of_type(CRON_JOB)


def test_a_private_api_gets_one_cron_job_per_schedule(private: ProgramRun) -> None:
    assert not private.of_type("gcp:cloudscheduler/job:Job")
    (cron,) = private.of_type(CRON_JOB)
    spec = cron.inputs["spec"]
    assert (spec["schedule"], spec["timeZone"]) == ("*/5 * * * *", "Etc/UTC")
    # One tick at a time, never started late; Cloud Scheduler's retries map onto the Job.
    assert spec["concurrencyPolicy"] == "Forbid" and spec["startingDeadlineSeconds"] == 60
    job = spec["jobTemplate"]["spec"]
    assert (job["backoffLimit"], job["activeDeadlineSeconds"]) == (3, 930)
    pod = job["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # Its own identity: a KSA mapped to the scheduler's Google account, which the API trusts.
    ksa = next(k for k in private.of_type("kubernetes:core/v1:ServiceAccount") if k.inputs["metadata"]["name"] == "scheduler")
    assert ksa.inputs["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] == SCHEDULER
    api_env = api_environment(private)
    assert SCHEDULER in api_env["SCHEDULER_CALLERS"].split(",")
    assert api_env["GOOGLE_ID_AUDIENCE"] == "http://api.celery.svc.cluster.local"
    members = {b.inputs["member"] for b in private.of_type("gcp:serviceaccount/iAMMember:IAMMember")}
    assert "serviceAccount:my-gcp-project-gke.svc.id.goog[celery/scheduler]" in members
    # Its pods reach the API pods, DNS and the metadata server, nothing else.
    (policy,) = [p for p in private.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") if p.inputs["metadata"]["name"] == "scheduler"]
    assert policy.inputs["spec"]["ingress"] == []
    assert sorted(p["port"] for rule in policy.inputs["spec"]["egress"] for p in rule["ports"]) == [53, 53, 80, 988, 8080]


def test_a_cron_deadline_beyond_the_idempotency_window_is_refused() -> None:
    with pytest.raises(ProgramError) as raised:
        run_program_full("gke", {"api": {"public": False, "idempotencyWindowSeconds": 960}})
    assert "CronJob tick deadline 990s" in str(raised.value)
    assert "shorter than api.idempotencyWindowSeconds (960s)" in str(raised.value)


def api_environment(run: ProgramRun) -> dict[str, str]:
    (api,) = [d for d in run.of_type("kubernetes:apps/v1:Deployment") if d.inputs["metadata"]["name"] == "api"]
    env = api.inputs["spec"]["template"]["spec"]["containers"][0]["env"]
    return {e["name"]: e["value"] for e in env if "value" in e}


class MetadataServer:
    """The GKE metadata server's identity endpoint, for the scheduler's Google account."""

    def __init__(self, provider: LocalIdentityProvider, email: str) -> None:
        self.audiences: list[str] = []
        outer = self

        class Identity(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                if self.headers.get("Metadata-Flavor") != "Google":
                    self.send_response(403)
                    self.end_headers()
                    return
                outer.audiences.append(query["audience"][0])
                token = provider.mint(email, query["audience"][0]).encode()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(token)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Identity)
        Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/computeMetadata/v1/instance/service-accounts/default/identity"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def google() -> Iterator[LocalIdentityProvider]:
    provider = LocalIdentityProvider()
    yield provider
    provider.close()


def run_tick(
    container: dict[str, Any], api: ApiProcess, metadata: MetadataServer, job_name: str, identity_url: str | None = None
) -> tuple[int, str]:
    """The container's command, with its rendered env; the downward-API job name set as Kubernetes would."""
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    (job_field,) = [e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"] if e["name"] == "TICK_JOB_NAME"]
    assert job_field == "metadata.labels['batch.kubernetes.io/job-name']"
    env["TICK_JOB_NAME"] = job_name
    env["TICK_URL"] = env["TICK_URL"].replace("http://api.celery.svc.cluster.local", api.url)
    env["TICK_IDENTITY_URL"] = identity_url or metadata.url
    command = [sys.executable, *container["command"][1:]]  # the image's /opt/venv/bin/python
    assert container["command"][1:] == ["-m", "api.cron_tick"]
    done = subprocess.run(
        command, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(map(str, SOURCE_PATHS)), **env},
        capture_output=True, text=True, timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def test_the_cron_jobs_command_enqueues_each_tick_once(
    private: ProgramRun, redis_server: RedisServer, google: LocalIdentityProvider
) -> None:
    api_env = api_environment(private)
    process = ApiProcess(env=broker_env(redis_server))
    # The API's rendered identity settings; Google's certificate URL is the local signer's.
    process.env.update(
        SCHEDULER_CALLERS=api_env["SCHEDULER_CALLERS"],
        GOOGLE_ID_AUDIENCE=api_env["GOOGLE_ID_AUDIENCE"],
        GOOGLE_CERTS_URL=google.certs_url,
    )
    metadata = MetadataServer(google, SCHEDULER)
    (cron,) = private.of_type(CRON_JOB)
    container = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    try:
        api = process.start()
        name = cron.inputs["metadata"]["name"]
        results = [run_tick(container, api, metadata, f"{name}-{MINUTE}") for _ in range(3)]  # a tick and 2 retries
        assert all(code == 0 for code, _ in results), results
        ids = {json.loads(json.loads(out.splitlines()[-1])["response"])["task_id"] for _, out in results}
        assert len(ids) == 1 and queue_depth(redis_server, "high") == 1
        code, out = run_tick(container, api, metadata, f"{name}-{MINUTE + 5}")  # the next tick
        assert code == 0 and queue_depth(redis_server, "high") == 2, out
        assert set(metadata.audiences) == {"http://api.celery.svc.cluster.local"}
        # A name that is not a CronJob's Job: refused with the cause, nothing enqueued.
        code, out = run_tick(container, api, metadata, "hand-made")
        assert code == 1 and "does not end in the scheduled minute" in out
        assert queue_depth(redis_server, "high") == 2
        # No metadata server (Workload Identity or the egress rule missing): fails, names both.
        closed = f"http://127.0.0.1:{free_port()}/identity"
        code, out = run_tick(container, api, metadata, f"{name}-{MINUTE + 10}", identity_url=closed)
        assert code == 1 and "Workload Identity" in out and "169.254.169.254" in out
        assert queue_depth(redis_server, "high") == 2
    finally:
        metadata.close()
        process.cleanup()


def test_the_cron_job_and_its_objects_validate(private: ProgramRun) -> None:
    from tests.kubernetes.test_schemas import kubernetes_version, manifests, validate

    rendered = [m for m in manifests(private) if m["kind"] == "CronJob" or m["metadata"]["name"] == "scheduler"]
    assert {m["kind"] for m in rendered} == {"CronJob", "ServiceAccount", "NetworkPolicy"}
    for manifest in rendered:
        validate(manifest, kubernetes_version())
    (cron,) = [m for m in rendered if m["kind"] == "CronJob"]
    cron["spec"]["startingDeadlineSeconds"] = "60"  # an integer in the schema: the check can fail
    with pytest.raises(Exception, match="60"):
        validate(cron, kubernetes_version())
