"""The Celery app: ``create_app()`` builds it, ``app`` is the one ``celery -A worker.app`` finds."""

from __future__ import annotations

from typing import Any

from celery import Celery, signals
from task_contract import TASKS, BrokerSettings
from task_contract.cloud_logging import configure_logging

from worker.config import WorkerSettings, celery_config, load_settings
from worker.health import ConsumingProbe, HealthServer


def create_app(broker: BrokerSettings | None = None, worker: WorkerSettings | None = None) -> Celery:
    """A configured app with the catalog's tasks and the health endpoint's bootsteps.

    Settings default to the environment; a bad variable raises ``SettingsError`` naming it.
    """
    if broker is None or worker is None:
        env_broker, env_worker = load_settings()
        broker, worker = broker or env_broker, worker or env_worker
    app = Celery("worker", set_as_current=True)
    app.config_from_object(celery_config(broker, worker))
    app.steps["worker"].add(HealthServer)
    app.steps["consumer"].add(ConsumingProbe)

    import worker.metrics  # noqa: F401 - connects the task counters to Celery's signals
    import worker.tasks  # noqa: F401 - registers the catalog's tasks (shared_task) on this app

    missing = sorted(set(TASKS) - set(app.tasks))
    if missing:
        raise RuntimeError(f"the catalog names tasks the worker does not implement: {', '.join(missing)}")
    return app


@signals.setup_logging.connect
def _json_logs(loglevel: Any = None, **_: Any) -> None:
    # Connecting this signal stops Celery from configuring logging itself: one JSON line per
    # record, with Cloud Logging's severity.
    level = loglevel if isinstance(loglevel, str) else WorkerSettings().log_level
    configure_logging(level)


app = create_app()
