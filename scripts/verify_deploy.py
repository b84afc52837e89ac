"""Verify a deployment end to end: the API is ready, and every worker group runs a real task.

    python scripts/verify_deploy.py --stack dev                 # after `pulumi up` (deploy.yml)
    python scripts/verify_deploy.py --stack dev --api-url URL   # a tagged candidate revision
    python scripts/verify_deploy.py --api-url http://127.0.0.1:8000 --api-key dev-key   # `make dev`

For each queue a worker group consumes, it submits one task through the API (``POST
/v1/tasks/<task>``) and waits, bounded, for its result; so a group that is not consuming, or a
queue nobody consumes, fails by name. Exit status 0 when every check passed, 1 with one line
per failure otherwise (2 for a usage or setup error).

With ``--stack`` it reads the stack's outputs (``pulumi stack output --json``) and config, and
the verify key from Secret Manager (``gcloud secrets versions access``): a key of its own, which
only the deployer and the API can read (docs/delivery.md).
Standard library only: it runs from the deploy job's Pulumi virtualenv.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "cloudrun-celery"
VERIFY_KEY_OUTPUT = "verify-key"


@dataclass(frozen=True)
class Probe:
    """A task routed to one queue, with a payload that must succeed, and its expected result."""

    task: str
    payload: dict[str, Any]
    expected: Any


# One probe per queue of the task contract (services/shared/task_contract/catalog.py; a test checks
# this table against it, so they cannot drift).
PROBES: dict[str, Probe] = {
    "high": Probe("add", {"x": 2, "y": 3}, 5),
    "default": Probe("external_call", {"latency_seconds": 0}, None),
    "low": Probe("flaky", {"fail_times": 0}, {"attempts": 1}),
}


@dataclass(frozen=True)
class WorkerGroup:
    name: str
    queues: tuple[str, ...]
    min_instances: int = 1


class SetupError(Exception):
    """The verification could not start: missing output, tool or key. The message says the fix."""


def request(method: str, url: str, key: str | None, body: dict[str, Any] | None = None,
            extra_headers: dict[str, str] | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", **(extra_headers or {})}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return int(response.status), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        try:
            return int(error.code), json.loads(text)
        except json.JSONDecodeError:
            return int(error.code), text[:300]


class Verifier:
    def __init__(self, api_url: str, api_key: str, headers: dict[str, str], poll_interval: float = 0.5) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key
        self.headers = headers
        self.poll_interval = poll_interval

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        return request(method, self.api_url + path, self.api_key, body, self.headers)

    def readiness(self) -> list[str]:
        try:
            code, body = self.call("GET", "/readyz")
        except OSError as error:
            return [f"API {self.api_url} unreachable: {error}; is it deployed and is the URL right?"]
        if code != 200:
            return [f"API not ready: GET /readyz answered {code} {body}; it cannot reach Redis (see its logs)"]
        return []

    def submit(self, group: WorkerGroup, queue: str) -> tuple[str | None, str | None]:
        probe = PROBES[queue]
        code, body = self.call("POST", f"/v1/tasks/{probe.task}", probe.payload)
        if code == 202 and isinstance(body, dict) and body.get("queue") == queue:
            return str(body["task_id"]), None
        hint = {401: "the API refused the verify key: does the API read it (docs/delivery.md)?",
                503: "the API cannot reach Redis"}.get(code, "see the API's logs")
        return None, f"submitting {probe.task} for group {group.name!r} (queue {queue}) failed: {code} {body}; {hint}"

    def wait_all(self, pending: dict[str, tuple[WorkerGroup, str]], timeouts: dict[str, float]) -> list[str]:
        """Poll each task until it finishes or its group's deadline passes; one message per failure."""
        started = time.monotonic()
        failures: list[str] = []
        last_state: dict[str, str] = {}
        while pending:
            for task_id, (group, queue) in list(pending.items()):
                probe = PROBES[queue]
                code, body = self.call("GET", f"/v1/tasks/{task_id}")
                state = body.get("state", "?") if isinstance(body, dict) else f"HTTP {code}"
                last_state[task_id] = state
                if state == "SUCCESS":
                    del pending[task_id]
                    if probe.expected is not None and body.get("result") != probe.expected:
                        failures.append(f"worker group {group.name!r} (queue {queue}): task {probe.task} returned "
                                        f"{body.get('result')!r}, expected {probe.expected!r}")
                elif state in ("FAILURE", "REVOKED"):
                    del pending[task_id]
                    failures.append(f"worker group {group.name!r} (queue {queue}): task {probe.task} {task_id} "
                                    f"ended {state}: {body.get('error')}")
                elif time.monotonic() - started > timeouts[group.name]:
                    del pending[task_id]
                    failures.append(
                        f"worker group {group.name!r} is not consuming queue {queue!r}: task {probe.task} "
                        f"{task_id} still {state} after {timeouts[group.name]:.0f} s; check that the group's "
                        "workers are running and healthy (their logs, /healthz)")
            if pending:
                time.sleep(self.poll_interval)
        return failures

    def run(self, groups: list[WorkerGroup], timeout: float, scale_from_zero_timeout: float) -> list[str]:
        failures = self.readiness()
        if failures:
            return failures
        pending: dict[str, tuple[WorkerGroup, str]] = {}
        for group in groups:
            for queue in group.queues:
                if queue not in PROBES:
                    failures.append(f"worker group {group.name!r}: no probe task for queue {queue!r} "
                                    f"(known: {', '.join(PROBES)}); add one to PROBES")
                    continue
                task_id, error = self.submit(group, queue)
                if error:
                    failures.append(error)
                elif task_id:
                    pending[task_id] = (group, queue)
        # A group at minInstances 0 first has to be started by its autoscaler: wait longer, bounded.
        timeouts = {g.name: scale_from_zero_timeout if g.min_instances == 0 else timeout for g in groups}
        return failures + self.wait_all(pending, timeouts)


def run_tool(*args: str) -> str:
    try:
        result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise SetupError(f"{args[0]} is not installed (needed for --stack); install it or pass --api-url and "
                         "--api-key") from None
    if result.returncode != 0:
        raise SetupError(f"`{' '.join(args)}` failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def stack_groups(stack: str) -> list[WorkerGroup]:
    """The worker groups of ``Pulumi.<stack>.yaml``, which the program deploys one service per group."""
    import yaml  # the deploy job's virtualenv has it (a Pulumi dependency)

    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise SetupError(f"no stack file {path.name}; is --stack right?")
    config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    workers = config.get(f"{PROJECT}:workers")
    if not workers:
        raise SetupError(f"{path.name} lists no {PROJECT}:workers; name the groups with --group NAME=q1,q2")
    return [WorkerGroup(w["name"], tuple(w["queues"]), int(w.get("minInstances", 1))) for w in workers]


def from_stack(stack: str) -> tuple[str, str]:
    """(API URL, verify key) from the stack's outputs and Secret Manager."""
    outputs = json.loads(run_tool("pulumi", "stack", "output", "--json", "--stack", stack))
    secret_id = (outputs.get("secret_names") or {}).get(VERIFY_KEY_OUTPUT)
    if not secret_id:
        raise SetupError(f"stack {stack} exports no secret_names.{VERIFY_KEY_OUTPUT}: set the verify key and deploy, "
                         f"pulumi config set --secret {PROJECT}:verifyKey \"$(openssl rand -hex 24)\" && pulumi up "
                         "(docs/delivery.md)")
    project = run_tool("pulumi", "config", "get", "gcp:project", "--stack", stack).strip()
    key = run_tool("gcloud", "secrets", "versions", "access", "latest", f"--secret={secret_id}",
                   f"--project={project}").strip()
    return str(outputs["api_url"]), key


def parse_group(text: str) -> WorkerGroup:
    name, _, queues = text.partition("=")
    if not name or not queues:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=queue1,queue2 (e.g. fast=high,default)")
    return WorkerGroup(name, tuple(q for q in queues.split(",") if q))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", help="read the API URL, key and worker groups from this stack")
    parser.add_argument("--api-url", help="the API to check (with --stack: e.g. a candidate's tag URL)")
    parser.add_argument("--api-key", default=os.environ.get("VERIFY_API_KEY"),
                        help="bearer key (default: $VERIFY_API_KEY; with --stack: the verify-key secret)")
    parser.add_argument("--group", action="append", type=parse_group, default=[],
                        help="worker group NAME=queue1,queue2 (default: the stack's, or one group on every queue)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds a running group has to finish its task")
    parser.add_argument("--scale-from-zero-timeout", type=float, default=300,
                        help="seconds for a group at minInstances 0 (its autoscaler must start it first)")
    parser.add_argument("--identity-token", default=os.environ.get("VERIFY_IDENTITY_TOKEN"),
                        help="Google ID token for an IAM-only API (api.public: false), sent as "
                             "X-Serverless-Authorization so Authorization keeps the API key")
    args = parser.parse_args(argv)
    try:
        if args.stack:
            url, key = from_stack(args.stack)
            url, key = args.api_url or url, args.api_key or key
            groups = args.group or stack_groups(args.stack)
        elif args.api_url and args.api_key:
            url, key = args.api_url, args.api_key
            groups = args.group or [WorkerGroup("all", tuple(PROBES))]
        else:
            parser.error("give --stack, or --api-url with --api-key (or VERIFY_API_KEY)")
    except SetupError as error:
        print(f"verify: cannot start: {error}", file=sys.stderr)
        return 2
    headers = {"X-Serverless-Authorization": f"Bearer {args.identity_token}"} if args.identity_token else {}
    failures = Verifier(url, key, headers).run(groups, args.timeout, args.scale_from_zero_timeout)
    for failure in failures:
        print(f"verify: FAILED: {failure}", file=sys.stderr)
    if failures:
        return 1
    queues = ", ".join(f"{g.name} ({','.join(g.queues)})" for g in groups)
    print(f"verify: OK: {url} is ready and every worker group ran a task: {queues}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
