"""Schema-driven fuzzing of the real API over HTTP (schemathesis): valid and invalid input, zero 5xx.

schemathesis generates requests from the app's own OpenAPI spec, with a valid bearer key,
against ``python -m api`` on a real Redis. Besides "no server error" it checks that the
answers match the spec (status codes, content types, response schemas) and that invalid
input is rejected and valid input accepted. Bounded: a fixed seed and 30 examples per
operation and phase, every phase (coverage, fuzzing, stateful): about 700 requests in 9 s on an
idle machine (100 examples: 1,600 requests in 39 s, and no more found).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.api_process import ApiProcess
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.slow

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "ignored_auth",
    "unsupported_method",
    "allow_header_conformance",
]


def test_fuzzing_the_openapi_spec_finds_no_server_error(
    redis_server: RedisServer, api_factory: Callable[..., ApiProcess], tmp_path: Path
) -> None:
    api = api_factory(redis_server)
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{api.url}/openapi.json",
            "--header", f"Authorization: Bearer {api.api_key}",
            "--checks", ",".join(CHECKS),
            "--max-examples", "30",
            "--seed", "20260101",
            "--workers", "2",
            "--request-timeout", "5",
            "--generation-database", "none",
            "--report", "junit",
            "--report-dir", str(tmp_path),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=300,  # a parallel run on 2 loaded cores stretches it several times
        check=False,
        cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20_000:]

    access = [
        entry["httpRequest"]
        for entry in map(json.loads, api.log_lines())
        if entry.get("logger") == "uvicorn.access"
    ]
    server_errors = [request for request in access if request["status"] >= 500]
    assert server_errors == [], server_errors[:10]
    assert len(access) > 200, f"only {len(access)} requests: the fuzz run did not really run\n{output[-5000:]}"
    statuses = {request["status"] for request in access}
    assert {202, 401, 404, 422} <= statuses, statuses  # reached enqueue, auth, unknown ids and validation
