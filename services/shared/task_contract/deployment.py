"""What the Pulumi program, the policy pack and the images agree on about a deployment.

No dependencies: the Pulumi program and the policy pack import this without Celery, kombu or
pydantic installed.
"""

from __future__ import annotations

from typing import Final

# Celery pools the worker image runs (services/worker/worker/config.py): only those whose
# SIGTERM path is tested. Anything else would pass preview and crash-loop on Cloud Run.
WORKER_POOLS: Final = ("threads", "prefork")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")

# A stopping worker's running tasks get this long to finish before they are cancelled and
# requeued (Celery's soft shutdown). Cloud Run sends SIGKILL 10 s after SIGTERM; the rest of the
# window is for requeueing and closing connections. The Kubernetes grace period is checked
# against it (infra/settings/platform.py).
WORKER_SOFT_SHUTDOWN_SECONDS: Final = 6.0

# Every Cloud Run service and worker pool carries ROLE_LABEL; the policy pack recognises
# workers by it (they must never be publicly invokable).
APP_LABEL: Final = "app"
APP_NAME: Final = "cloudrun-celery"
ROLE_LABEL: Final = "role"
API_ROLE: Final = "api"
WORKER_ROLE: Final = "worker"

# Env var names of the runtime contract (docs/runtime-contract.md).
PORT_ENV: Final = "PORT"
REDIS_URL_ENV: Final = "REDIS_URL"
REDIS_CA_FILE_ENV: Final = "REDIS_CA_FILE"
LOG_LEVEL_ENV: Final = "LOG_LEVEL"
TASK_TIME_LIMIT_ENV: Final = "TASK_TIME_LIMIT_SECONDS"
RESULT_TTL_ENV: Final = "RESULT_TTL_SECONDS"
API_KEYS_FILE_ENV: Final = "API_KEYS_FILE"
REDIS_MAX_CONNECTIONS_ENV: Final = "REDIS_MAX_CONNECTIONS"
WORKER_QUEUES_ENV: Final = "WORKER_QUEUES"
WORKER_POOL_ENV: Final = "WORKER_POOL"
WORKER_CONCURRENCY_ENV: Final = "WORKER_CONCURRENCY"
WORKER_PROCESSES_ENV: Final = "WORKER_PROCESSES"
WEB_CONCURRENCY_ENV: Final = "WEB_CONCURRENCY"
MAX_QUEUE_LENGTH_ENV: Final = "MAX_QUEUE_LENGTH"
MAX_QUEUE_LENGTHS_ENV: Final = "MAX_QUEUE_LENGTHS"
EXTERNAL_CALL_ALLOWED_HOSTS_ENV: Final = "EXTERNAL_CALL_ALLOWED_HOSTS"
EXTERNAL_CALL_ALLOWED_NETWORKS_ENV: Final = "EXTERNAL_CALL_ALLOWED_NETWORKS"
# The project id, for the Cloud Trace name on log lines (task_contract.cloud_logging).
PROJECT_ENV: Final = "GOOGLE_CLOUD_PROJECT"
# The worker's prometheus_client multiprocess directory (worker/metrics.py).
METRICS_DIR_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
# Read by the images with a default; an app secret must not take one of these names either.
IMAGE_ONLY_ENV: Final = (
    "RESULT_BACKEND_URL",
    "REDIS_CONNECT_TIMEOUT_SECONDS",
    "VISIBILITY_TIMEOUT_SECONDS",
    "API_KEYS",
    "IDEMPOTENCY_WINDOW_SECONDS",
    "MAX_BODY_BYTES",
)
CONTRACT_ENV: Final = (
    PORT_ENV,
    REDIS_URL_ENV,
    REDIS_CA_FILE_ENV,
    LOG_LEVEL_ENV,
    TASK_TIME_LIMIT_ENV,
    RESULT_TTL_ENV,
    API_KEYS_FILE_ENV,
    REDIS_MAX_CONNECTIONS_ENV,
    WORKER_QUEUES_ENV,
    WORKER_POOL_ENV,
    WORKER_CONCURRENCY_ENV,
    WORKER_PROCESSES_ENV,
    WEB_CONCURRENCY_ENV,
    MAX_QUEUE_LENGTH_ENV,
    MAX_QUEUE_LENGTHS_ENV,
    EXTERNAL_CALL_ALLOWED_HOSTS_ENV,
    EXTERNAL_CALL_ALLOWED_NETWORKS_ENV,
    PROJECT_ENV,
    METRICS_DIR_ENV,
    *IMAGE_ONLY_ENV,
)


def is_prod_stack(stack: str) -> bool:
    """The one definition of a production stack: ``prod`` or ``prod-<anything>``.

    ``stack`` may be fully qualified (``org/project/prod-eu``), as the policy pack sees it.
    """
    short = stack.rsplit("/", 1)[-1]
    return short == "prod" or short.startswith("prod-")
