"""`make dev`'s stand-in for Cloud Scheduler: fires the stack's `schedules` at the local API.

It posts each tick the way Cloud Scheduler does (docs/schedules.md): `POST /v1/tasks/<task>`
with the payload, `X-CloudScheduler-JobName` and `X-CloudScheduler-ScheduleTime`, and an ID
token in `Authorization: Bearer`, retried with the same headers when the API does not answer
2xx. The token is signed by a key made at start-up; this process serves its certificate the
way Google publishes its own (key id -> PEM), and the local API is pointed at that URL
(`GOOGLE_CERTS_URL`), so the API runs the same google-auth verification as on Cloud Run.

    python scripts/local_scheduler.py --api-url http://127.0.0.1:8000 --certs-port 8790
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import zoneinfo
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

ROOT = Path(__file__).resolve().parent.parent
GOOGLE_ISSUER = "https://accounts.google.com"
LOCAL_CALLER = "local-scheduler@cloudrun-celery-dev.iam.gserviceaccount.com"


@dataclass
class LocalIdentityProvider:
    """Signs ID tokens like Google and serves the certificate that verifies them on ``certs_url``."""

    port: int = 0
    key_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local-scheduler")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=7))
            .sign(self._key, hashes.SHA256())
        )
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self._signer = crypt.RSASigner.from_string(pem, key_id=self.key_id)
        body = json.dumps({self.key_id: cert.public_bytes(serialization.Encoding.PEM).decode()}).encode()

        class Certs(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=300")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Certs)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def certs_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/certs"

    def mint(self, email: str, audience: str, lifetime_seconds: int = 3600, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": GOOGLE_ISSUER,
            "aud": audience,
            "sub": str(abs(hash(email))),
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": now + lifetime_seconds,
            **claims,
        }
        return bytes(jwt.encode(self._signer, payload)).decode()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass(frozen=True)
class Tick:
    job_name: str
    task: str
    payload: dict[str, Any]
    schedule_time: dt.datetime


def post_tick(
    provider: LocalIdentityProvider, api_url: str, tick: Tick, caller: str = LOCAL_CALLER, schedule_time: bool = True
) -> tuple[int, dict[str, Any]]:
    """One attempt, as Cloud Scheduler sends it: (status, JSON body)."""
    headers = {
        "Authorization": f"Bearer {provider.mint(caller, api_url)}",
        "Content-Type": "application/json",
        "X-CloudScheduler-JobName": tick.job_name,
        "User-Agent": "Google-Cloud-Scheduler",
    }
    if schedule_time:
        headers["X-CloudScheduler-ScheduleTime"] = tick.schedule_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    request = urllib.request.Request(
        f"{api_url}/v1/tasks/{tick.task}", data=json.dumps(tick.payload).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def read_schedules(stack_file: Path) -> tuple[str, list[dict[str, Any]]]:
    """(namePrefix, schedules) from a stack file; `pulumi preview` validates them, so this only reads."""
    config = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
    return str(config.get("cloudrun-celery:namePrefix", "celery")), list(config.get("cloudrun-celery:schedules") or [])


def next_tick(cron: str, time_zone: str, after: dt.datetime, previous: bool = False) -> dt.datetime:
    from croniter import croniter

    local = after.astimezone(zoneinfo.ZoneInfo(time_zone))
    schedule = croniter(cron, local)
    fire: dt.datetime = schedule.get_prev(dt.datetime) if previous else schedule.get_next(dt.datetime)
    return fire.astimezone(dt.UTC)


def run(api_url: str, stack_file: Path, provider: LocalIdentityProvider, attempts: int = 4) -> None:
    prefix, schedules = read_schedules(stack_file)
    if not schedules:
        print(f"local scheduler: no schedules in {stack_file.name}; nothing to fire", flush=True)
        # Stay up: honcho stops every process when one exits.
        signal.pause()
        return
    now = dt.datetime.now(dt.UTC)
    # Start by firing each schedule's latest tick, so a developer sees it at once; a restart
    # fires the same tick again, and the API's idempotency answers it with the same task.
    due = {s["name"]: next_tick(s["cron"], s["timeZone"], now, previous=True) for s in schedules}
    for s in schedules:
        print(f"local scheduler: {prefix}-{s['name']} ({s['cron']} {s['timeZone']}) next at {due[s['name']]:%H:%M:%S}Z",
              flush=True)
    while True:
        now = dt.datetime.now(dt.UTC)
        for s in schedules:
            if due[s["name"]] > now:
                continue
            tick = Tick(f"{prefix}-{s['name']}", s["task"], s.get("payload") or {}, due[s["name"]])
            for attempt in range(attempts):  # Cloud Scheduler retries a failed tick with the same headers
                try:
                    status, body = post_tick(provider, api_url, tick)
                except OSError as exc:
                    status, body = 0, {"detail": str(exc)}
                print(f"local scheduler: {tick.job_name} @ {tick.schedule_time:%H:%M:%S}Z -> {status} {body}",
                      flush=True)
                if 200 <= status < 300:
                    break
                time.sleep(2**attempt)
            due[s["name"]] = next_tick(s["cron"], s["timeZone"], now)
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--certs-port", type=int, required=True)
    parser.add_argument("--stack-file", type=Path, default=ROOT / "Pulumi.dev.yaml")
    args = parser.parse_args()
    # honcho stops its processes with SIGTERM (Ctrl-C sends SIGINT): both end cleanly, exit 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    provider = LocalIdentityProvider(port=args.certs_port)
    try:
        run(args.api_url, args.stack_file, provider)
    except KeyboardInterrupt:
        pass
    finally:
        provider.close()


if __name__ == "__main__":
    main()
