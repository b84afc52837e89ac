"""The worker's settings, Celery config and tasks, without processes."""

from __future__ import annotations

import ssl
import subprocess
import sys
import threading
import time

import pytest
from task_contract import TASKS, BrokerSettings
from worker.app import create_app
from worker.config import (
    BROKER_HEALTH_CHECK_INTERVAL_SECONDS,
    REDIS_SOCKET_TIMEOUT_SECONDS,
    SOFT_SHUTDOWN_TIMEOUT_SECONDS,
    SettingsError,
    WorkerSettings,
    celery_config,
    load_settings,
)
from worker.health import STALE_AFTER_SECONDS, ConsumerHealth
from worker.pool import ThreadTaskPool
from worker.tasks.flaky import (
    BACKOFF_MAX_SECONDS,
    MAX_RETRIES,
    TransientError,
    backoff_seconds,
)

from tests.support.worker_process import SOURCE_PATHS

CLOUD_RUN_GRACE_SECONDS = 10
assert SOFT_SHUTDOWN_TIMEOUT_SECONDS < CLOUD_RUN_GRACE_SECONDS


@pytest.fixture
def app():
    return create_app(BrokerSettings(), WorkerSettings())


def test_reliability_settings(app):
    conf = app.conf
    assert conf.worker_prefetch_multiplier == 1
    assert conf.worker_cancel_long_running_tasks_on_connection_loss is True
    assert conf.worker_enable_soft_shutdown_on_idle is True
    assert 0 < conf.worker_soft_shutdown_timeout <= CLOUD_RUN_GRACE_SECONDS - 3
    assert conf.broker_connection_retry_on_startup is True
    assert conf.broker_connection_max_retries is None
    assert conf.broker_transport_options["health_check_interval"] > 0
    assert conf.broker_transport_options["socket_timeout"] > 1  # above kombu's 1 s BRPOP timeout
    assert conf.task_acks_late is False  # late acks only per idempotent task


def test_visibility_timeout_exceeds_the_time_limit_in_all_three_places(app):
    limit = app.conf.task_time_limit
    for value in (
        app.conf.broker_transport_options["visibility_timeout"],
        app.conf.result_backend_transport_options["visibility_timeout"],
        app.conf.visibility_timeout,
    ):
        assert value > limit


def test_every_catalog_task_is_implemented_with_late_acks_only_if_idempotent(app):
    for name, spec in TASKS.items():
        task = app.tasks[name]
        assert task.acks_late is spec.idempotent
        assert task.reject_on_worker_lost is spec.idempotent


def test_only_external_call_tracks_started(app):
    assert app.conf.task_track_started is False
    assert {name for name in TASKS if app.tasks[name].track_started} == {"external_call"}


def test_routing_comes_from_the_catalog(app):
    for name, spec in TASKS.items():
        assert app.amqp.router.route({}, name)["queue"].name == spec.queue


def test_default_pool_is_threads_50_and_prefork_can_be_chosen(monkeypatch):
    broker = BrokerSettings()
    default = celery_config(broker, WorkerSettings())
    assert default["worker_pool"] == "worker.pool:ThreadTaskPool"
    assert default["worker_concurrency"] == 50
    monkeypatch.setenv("WORKER_POOL", "Prefork")
    monkeypatch.setenv("WORKER_CONCURRENCY", "4")
    chosen = celery_config(broker, WorkerSettings())
    assert (chosen["worker_pool"], chosen["worker_concurrency"]) == ("prefork", 4)


def test_tls_options_for_rediss(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not parsed here")
    conf = celery_config(BrokerSettings(redis_url="rediss://:secret@10.0.0.3:6378/0", redis_ca_file=ca), WorkerSettings())
    for key in ("broker_use_ssl", "redis_backend_use_ssl"):
        assert conf[key] == {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": str(ca)}


def test_queues_are_kept_in_priority_order(monkeypatch):
    monkeypatch.setenv("WORKER_QUEUES", "low, high")
    assert WorkerSettings().queues == ("high", "low")


@pytest.mark.parametrize(
    ("variable", "value", "fix"),
    [
        ("WORKER_CONCURRENCY", "lots", "an integer from 1 to 1000"),
        ("WORKER_CONCURRENCY", "0", "an integer from 1 to 1000"),
        ("WORKER_POOL", "gevent", "threads"),
        ("WORKER_POOL", "solo", "prefork"),
        ("WORKER_QUEUES", "high,urgent", "comma-separated subset of high,default,low"),
        ("LOG_LEVEL", "loud", "DEBUG, INFO"),
        ("EXTERNAL_CALL_ALLOWED_NETWORKS", "10.0.0.0/8,intranet", "comma-separated CIDRs"),
    ],
)
def test_bad_env_names_the_variable_the_value_and_the_fix(monkeypatch, variable, value, fix):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"{variable}={value!r}".lower() in message.lower() and fix in message


def test_bad_broker_url_is_explained_without_the_password(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "http://:hunter2@redis:6379/0")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "REDIS_URL" in str(caught.value) and "hunter2" not in str(caught.value)


def test_python_m_worker_exits_2_with_the_explanation_on_bad_env():
    env = {"PYTHONPATH": ":".join(map(str, SOURCE_PATHS)), "WORKER_CONCURRENCY": "-3", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "worker"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "WORKER_CONCURRENCY='-3'" in done.stderr and "Traceback" not in done.stderr


def test_add_rejects_a_bad_payload_without_retrying(app):
    result = app.tasks["add"].apply(kwargs={"x": 1, "y": "two"})
    assert result.failed()
    assert "invalid payload for task 'add': y:" in str(result.result)


def test_flaky_retries_then_succeeds(app):
    assert app.tasks["flaky"].apply(kwargs={"fail_times": 2}).get() == {"attempts": 3}


def test_flaky_retries_are_bounded(app):
    result = app.tasks["flaky"].apply(kwargs={"fail_times": MAX_RETRIES + 2})
    assert result.failed()
    assert isinstance(result.result, TransientError)
    assert f"attempt {MAX_RETRIES + 1} failed" in str(result.result)


def test_backoff_grows_and_is_capped():
    assert backoff_seconds(0) <= 0.5
    assert all(backoff_seconds(n) <= BACKOFF_MAX_SECONDS for n in range(20))
    assert min(backoff_seconds(10) for _ in range(20)) >= BACKOFF_MAX_SECONDS / 2


def test_thread_pool_stop_does_not_deadlock_when_the_signal_interrupted_submit():
    # Celery stops the pool from the SIGTERM handler; if the signal arrived inside submit(), the
    # same thread already holds the executor's shutdown lock.
    pool = ThreadTaskPool(limit=2)
    pool.start()
    stopped = threading.Event()
    with pool.executor._shutdown_lock:
        thread = threading.Thread(target=lambda: (pool.on_stop(), stopped.set()), daemon=True)
        thread.start()
        assert stopped.wait(5), "on_stop blocked on the executor's shutdown lock"
    pool.on_stop()
    assert pool.executor._shutdown


def test_health_report_follows_the_consumer():
    health = ConsumerHealth()
    assert health.report()[0] == 503
    health.started(("high",))
    assert health.report() == (200, {"status": "consuming", "queues": ["high"]})
    health.last_tick = time.monotonic() - STALE_AFTER_SECONDS - 1
    assert health.report()[0] == 503
    health.started(("high",))
    health.stopped("broker connection lost; reconnecting")
    assert health.report() == (503, {"status": "not consuming", "reason": "broker connection lost; reconnecting"})


def test_health_check_interval_reaches_redis_py(redis_server):
    # kombu drops the option unless the redis-py connection class accepts it; redis-py >= 7 takes
    # it through **kwargs, which kombu < 5.7 did not recognise (kombu#2548).
    app = create_app(BrokerSettings(redis_url=redis_server.url), WorkerSettings())
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        assert type(channel).__module__ == "worker.redis_transport_patch"
        kwargs = channel.client.connection_pool.connection_kwargs
        assert kwargs["health_check_interval"] == BROKER_HEALTH_CHECK_INTERVAL_SECONDS
        assert kwargs["socket_timeout"] == REDIS_SOCKET_TIMEOUT_SECONDS


def test_thread_pool_cancels_nothing_but_lets_a_shutdown_through():
    pool = ThreadTaskPool(limit=1)
    with pytest.raises(NotImplementedError):
        pool.terminate_job(None)  # a connection loss: Celery logs it, the task runs on
    pool.shutting_down = True
    pool.terminate_job(None)  # a shutdown: abandoned, its message is requeued when the channel closes
    pool.on_stop()


def test_worker_uses_the_shutdown_aware_consumer(app):
    assert app.conf.worker_consumer == "worker.consumer:WorkerConsumer"
