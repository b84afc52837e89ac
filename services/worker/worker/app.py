"""The Celery app: ``create_app()`` builds it, ``app`` is the one ``celery -A worker.app`` finds."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, signals
from task_contract import TASKS, BrokerSettings
from task_contract.cloud_logging import configure_logging

# Imported for their effects: the task counters connect to Celery's signals, and the tasks
# (shared_task) register on every app created below.
from worker import dead_letters, metrics, tasks
from worker.config import WorkerSettings, celery_config, load_settings
from worker.consumer import RequeueCancelled
from worker.health import ConsumingProbe, HealthServer

__all__ = ["app", "create_app", "metrics", "tasks"]


def create_app(broker: BrokerSettings | None = None, settings: WorkerSettings | None = None) -> Celery:
    """A configured app with the catalog's tasks and the health endpoint's bootsteps.

    Settings default to the environment; a bad variable raises ``SettingsError`` naming it.
    """
    if broker is None or settings is None:
        env_broker, env_settings = load_settings()
        broker, settings = broker or env_broker, settings or env_settings
    app = Celery("worker", set_as_current=True)
    app.config_from_object(celery_config(broker, settings))
    app.steps["worker"].add(HealthServer)
    app.steps["consumer"].add(ConsumingProbe)
    app.steps["consumer"].add(RequeueCancelled)
    dead_letters.install()

    missing = sorted(set(TASKS) - set(app.tasks))
    if missing:
        raise RuntimeError(f"the catalog names tasks the worker does not implement: {', '.join(missing)}")
    return app


@signals.setup_logging.connect  # type: ignore[untyped-decorator]
def _json_logs(loglevel: Any = None, **_: Any) -> None:
    # Connecting this signal stops Celery from configuring logging itself: one JSON line per
    # record, with Cloud Logging's severity.
    # Celery passes the --loglevel it parsed, as a number; without one, LOG_LEVEL decides.
    if isinstance(loglevel, int):
        configure_logging(logging.getLevelName(loglevel))
    else:
        configure_logging(loglevel or WorkerSettings().log_level)


app = create_app()
