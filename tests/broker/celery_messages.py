"""Real Celery messages on a real Redis, through the shared contract's Celery configuration.

Publishing goes through ``Celery.send_task`` and consuming through kombu's consumer on the same
connection settings the API and the worker use, so the keys in Redis are the ones a deployment has.
"""

from __future__ import annotations

from celery import Celery
from task_contract import BrokerSettings, celery_connection_config


def celery_app(redis_url: str) -> Celery:
    app = Celery("broker-tests", set_as_current=False)
    app.conf.update(celery_connection_config(BrokerSettings(redis_url=redis_url)))
    return app


def publish(app: Celery, count: int, task: str = "add") -> list[str]:
    """Enqueue ``count`` tasks; returns their ids in publish order."""
    return [
        str(app.send_task(task, kwargs={"x": i, "y": 1}).id) for i in range(count)
    ]


def consume(app: Celery, queue: str, count: int, timeout: float = 5.0) -> list[str]:
    """Take ``count`` messages off ``queue`` and ack each, as a worker does when a task is done."""
    taken: list[str] = []
    with app.connection_for_read() as connection:
        simple = connection.SimpleQueue(queue, no_ack=False)
        try:
            for _ in range(count):
                message = simple.get(block=True, timeout=timeout)
                taken.append(str(message.headers["id"]))
                message.ack()
        finally:
            simple.close()
    return taken


def drain(app: Celery, queue: str) -> list[str]:
    """Every message left on ``queue`` (acked), in delivery order."""
    taken: list[str] = []
    with app.connection_for_read() as connection:
        simple = connection.SimpleQueue(queue, no_ack=False)
        try:
            while True:
                try:
                    message = simple.get(block=True, timeout=1.0)
                except simple.Empty:
                    return taken
                taken.append(str(message.headers["id"]))
                message.ack()
        finally:
            simple.close()
