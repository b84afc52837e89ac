"""The worker's one config module: its own settings from the environment and every Celery setting.

Connection, queues and routing come from ``task_contract.celery_connection_config`` (shared with
the API); this module adds the worker's reliability settings on top, each with the reason for it
(services/worker/README.md, Cloud Run's 10 s SIGTERM window).
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from task_contract import QUEUES, BrokerSettings, celery_connection_config
from task_contract.connection import redact
from task_contract.deployment import WORKER_SOFT_SHUTDOWN_SECONDS

from worker.egress import EgressPolicy, parse_hosts, parse_networks

# Only pools whose SIGTERM path is tested (tests/worker/test_faults.py). solo is left out: a
# SIGTERM during a task fails that task (Celery's solo pool cannot cancel it) instead of requeueing it.
PoolName = Literal["threads", "prefork"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

# Cloud Run sends SIGKILL 10 s after SIGTERM. Running tasks get this long to finish; the rest of
# the window is for cancelling, requeueing unacked messages, stopping the pool and closing
# connections: measured 0.5 s (threads) and 1.5 s (prefork) on 2 cores, so 6 s leaves margin.
SOFT_SHUTDOWN_TIMEOUT_SECONDS: Final = WORKER_SOFT_SHUTDOWN_SECONDS

# Seconds between kombu's checks of its long-lived Redis connections (BRPOP and pub/sub). A
# consumer on a silent connection (frozen server, failover, NAT timeout) drops it within
# brpop_timeout + 2 * this, then reconnects. kombu 5.7 passes it through to redis-py >= 7
# (kombu#2548). test_faults: a SIGSTOPped Redis shows as 503 within ~20 s.
BROKER_HEALTH_CHECK_INTERVAL_SECONDS: Final = 5

# A command on a dead or silent connection fails after this instead of blocking the consumer's
# event loop forever. Redis answers in milliseconds; must exceed kombu's 1 s BRPOP timeout.
REDIS_SOCKET_TIMEOUT_SECONDS: Final = 5

# Retries of a result write that meets a connection error (see result_backend_always_retry below).
RESULT_WRITE_RETRIES: Final = 10

BROKER_TRANSPORT_CLASS: Final = "worker.redis_transport_patch:Transport"

# The celery import path of the default pool: Celery's thread pool with a shutdown that does not
# wait for running threads (see worker.pool).
THREAD_POOL_CLASS: Final = "worker.pool:ThreadTaskPool"
CONSUMER_CLASS: Final = "worker.consumer:WorkerConsumer"

# The shipped defaults (docs/benchmarks.md (b), (c)).
DEFAULT_PROCESSES: Final = 2
DEFAULT_THREADS: Final = 250
DEFAULT_PREFORK_CHILDREN: Final = 2

RESULT_BACKEND_CLASS: Final = "worker.result_backend:RedisBackend"

_HINTS: Final = {
    "WORKER_QUEUES": f"a comma-separated subset of {','.join(QUEUES)}, e.g. WORKER_QUEUES=high,default",
    "WORKER_POOL": "threads (I/O-bound work, the default) or prefork (CPU-bound work)",
    "WORKER_CONCURRENCY": "an integer from 1 to 1000, per process (threads: 250 suits I/O-bound work)",
    "WORKER_PROCESSES": "an integer from 1 to 16: consumer processes per instance, e.g. its vCPU count",
    "LOG_LEVEL": "one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    "PORT": "an integer from 1 to 65535 (Cloud Run sets it)",
    "EXTERNAL_CALL_ALLOWED_NETWORKS": "comma-separated CIDRs, e.g. 10.8.0.0/24,192.168.1.7",
}


class WorkerSettings(BaseSettings):
    """Environment: WORKER_QUEUES, WORKER_POOL, WORKER_CONCURRENCY, LOG_LEVEL, PORT."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    worker_queues: str = Field(default=",".join(QUEUES), description="Queues this worker consumes.")
    worker_pool: PoolName = "threads"
    # Per process. The defaults (2 processes x 250 threads) hold 500 one-second I/O tasks in flight;
    # at ~2.8 ms of CPU per task, 400 tasks/s needs ~1.1 of a 2-vCPU instance's cores
    # (docs/benchmarks.md (c)); a thread costs ~70 KiB.
    worker_concurrency: int | None = Field(default=None, ge=1, le=1000)
    # Consumer processes per instance (worker.supervisor); default 2 for threads, 1 for prefork.
    worker_processes: int | None = Field(default=None, ge=1, le=16)
    log_level: LogLevel = "INFO"
    port: int = Field(default=8080, ge=1, le=65535, description="The health endpoint's port.")
    # Flower's feed (flower.watchGroups): task events and worker heartbeats. Off by default: they
    # cost throughput (docs/benchmarks.md) and heartbeats block the loop on a frozen Redis.
    worker_events: bool = False
    # external_call's egress rules (worker.egress): no URL is fetched until its host is allowed.
    external_call_allowed_hosts: str = ""
    external_call_allowed_networks: str = ""

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("worker_pool", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("worker_queues")
    @classmethod
    def _check_queues(cls, value: str) -> str:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in QUEUES]
        if not names or unknown:
            raise ValueError(f"unknown queue(s) {', '.join(unknown) or '(none given)'}")
        return value

    @field_validator("external_call_allowed_networks")
    @classmethod
    def _check_networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @property
    def egress(self) -> EgressPolicy:
        return EgressPolicy(parse_hosts(self.external_call_allowed_hosts), parse_networks(self.external_call_allowed_networks))

    @property
    def concurrency(self) -> int:
        """Pool slots per process: WORKER_CONCURRENCY, else 250 threads or 2 prefork children."""
        if self.worker_concurrency is not None:
            return self.worker_concurrency
        return DEFAULT_THREADS if self.worker_pool == "threads" else DEFAULT_PREFORK_CHILDREN

    @property
    def processes(self) -> int:
        if self.worker_processes is not None:
            return self.worker_processes
        return DEFAULT_PROCESSES if self.worker_pool == "threads" else 1

    @property
    def queues(self) -> tuple[str, ...]:
        """The selected queues in priority order (high first), whatever order the variable gives."""
        chosen = {name.strip() for name in self.worker_queues.split(",")}
        return tuple(name for name in QUEUES if name in chosen)


class SettingsError(Exception):
    """A bad environment variable, explained: which one, its value and how to fix it."""


def explain(exc: ValidationError) -> SettingsError:
    """Turn a pydantic error about env-loaded settings into one line per variable, with the fix."""
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if isinstance(part, str)]
        variable = loc[0].upper() if loc else ""
        message = str(error.get("msg", "invalid"))
        if variable:
            value = error.get("input")
            shown = redact(value) if isinstance(value, str) and "URL" in variable else value
            hint = _HINTS.get(variable)
            line = f"{variable}={shown!r}: {message}"
            lines.append(f"{line}; use {hint}" if hint else line)
        else:  # a model-level check, whose message already names the variables
            lines.append(message.removeprefix("Value error, "))
    return SettingsError("invalid worker configuration:\n  " + "\n  ".join(lines))


def load_settings() -> tuple[BrokerSettings, WorkerSettings]:
    """Both settings objects from the environment; raises SettingsError naming each bad variable."""
    try:
        return BrokerSettings(), WorkerSettings()
    except ValidationError as exc:
        raise explain(exc) from None


def celery_config(broker: BrokerSettings, worker: WorkerSettings) -> dict[str, Any]:
    """Every Celery setting the worker runs with."""
    config: dict[str, Any] = celery_connection_config(broker)
    # The restore sweep brings back messages of a worker that died without acking (SIGKILL,
    # OOM). kombu's default sweeps every 10 s * 10; scan every sweep, so a lost task returns
    # at most ~10 s after its visibility timeout has passed.
    restore_interval = max(1, min(10, broker.visibility_timeout // 10))
    config["broker_transport_options"] = {
        **config["broker_transport_options"],
        "health_check_interval": BROKER_HEALTH_CHECK_INTERVAL_SECONDS,
        "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
        "socket_keepalive": True,
        "unacked_restore_interval": restore_interval,
        "unacked_restore_throttle": 1,
        # kombu's channel pool raises "Too many connections" past this; every pool thread may
        # ack at once.
        "max_connections": worker.concurrency + 10,
    }
    config.update(
        # Celery's Redis result backend, storing each state in one round trip (worker.result_backend).
        result_backend=f"{RESULT_BACKEND_CLASS}+{config['result_backend']}",
        # kombu's Redis transport, fixed so a busy worker survives Redis going away (worker.redis_transport_patch).
        broker_transport=BROKER_TRANSPORT_CLASS,
        # --- Pool -----------------------------------------------------------------------------
        worker_pool=THREAD_POOL_CLASS if worker.worker_pool == "threads" else worker.worker_pool,
        # Lets the thread pool tell a shutdown (abandon the thread, requeue) from a connection loss.
        worker_consumer=CONSUMER_CLASS,
        worker_concurrency=worker.concurrency,
        # Where worker.health serves /healthz and /metrics (Cloud Run's $PORT).
        health_port=worker.port,
        # Where external_call may connect (worker.egress).
        external_call_egress=worker.egress,
        # --- Delivery -------------------------------------------------------------------------
        # Late acks are per task (worker.tasks): only idempotent tasks may run twice. The
        # global default stays early ack so a new non-idempotent task is safe by default.
        task_acks_late=False,
        task_reject_on_worker_lost=False,
        # One reserved message per pool slot: long tasks don't hold work another worker could do,
        # and fewer unacked messages wait on a visibility timeout when a worker dies.
        worker_prefetch_multiplier=1,
        # Late-ack tasks still running when the broker connection drops are redelivered after the
        # reconnect; cancel them so they don't also finish here (default in Celery 6). prefork
        # can cancel; threads cannot, and Celery logs that.
        worker_cancel_long_running_tasks_on_connection_loss=True,
        # STARTED is stored only for long tasks, which opt in (worker.tasks.external): it costs a
        # result write per task, about a fifth of a quick task's throughput (docs/benchmarks.md (b)).
        task_track_started=False,
        # --- Shutdown (Cloud Run: SIGTERM, SIGKILL 10 s later) ---------------------------------
        # With REMAP_SIGTERM=SIGQUIT (set by `python -m worker`), SIGTERM starts a soft shutdown:
        # wait this long for running tasks, then requeue the unacked ones and exit, inside 10 s.
        worker_soft_shutdown_timeout=SOFT_SHUTDOWN_TIMEOUT_SECONDS,
        # Also spend the window when idle: an ETA/countdown task held in memory (a retry) is
        # requeued, not forgotten.
        worker_enable_soft_shutdown_on_idle=True,
        # --- Broker connection ----------------------------------------------------------------
        # Never give up reconnecting: /healthz answers 503 meanwhile, and Cloud Run's probes
        # decide when to replace the instance. The same process resumes when Redis is back.
        broker_connection_retry=True,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_connection_timeout=broker.redis_connect_timeout_seconds,
        # Result backend: fail fast on a dead socket, retry once on timeout, and check idle
        # pooled connections before use.
        redis_socket_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
        redis_socket_connect_timeout=broker.redis_connect_timeout_seconds,
        redis_retry_on_timeout=True,
        redis_socket_keepalive=True,
        redis_backend_health_check_interval=BROKER_HEALTH_CHECK_INTERVAL_SECONDS,
        # A result write (STARTED, SUCCESS) that meets a Redis blip retries instead of failing the
        # task: without this a task starting during a 20 ms restart ended FAILURE "ConnectionError"
        # and its message was acked (tests/worker/test_pool_guarantees.py). Backoff with jitter
        # from 10 ms, capped at 2 s: about 10 s in all before the write gives up.
        result_backend_always_retry=True,
        result_backend_max_retries=RESULT_WRITE_RETRIES,
        result_backend_base_sleep_between_retries_ms=10,
        result_backend_max_sleep_between_retries_ms=2000,
        # --- Logging --------------------------------------------------------------------------
        # task_contract.cloud_logging owns the root logger (setup_logging signal, worker.app).
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        # Cloud Logging renders colour codes as garbage.
        worker_log_color=False,
        # Per-task events over the broker only for a group Flower watches (WORKER_EVENTS).
        worker_send_task_events=worker.worker_events,
        task_send_sent_event=False,
    )
    return config
