"""Requeue a stopping thread-pool process's running tasks only after that process has exited.

A thread cannot be stopped, so a task still running when the soft shutdown ends runs on until
the process exits. kombu requeues every unacked message when the channel closes, a few ms
*before* the exit, so the requeued copy could start on another worker while the old one still
ran (measured 2 ms once; tests/autoscaling/test_scale_in.py). Under the supervisor
(worker.supervisor) the order is instead:

1. at the cold shutdown the process writes the delivery tags of its running late-ack tasks to
   the file named by ``WORKER_REQUEUE_FILE`` and takes them out of what kombu restores;
2. it exits (its other unacked messages, never started, are requeued by kombu as before);
3. the supervisor, having seen it exit, puts those messages back at the head of their queues
   with kombu's own ``restore_by_tag`` (a no-op for one that was acked meanwhile).

If the supervisor is killed first (Cloud Run's SIGKILL at 10 s; the child exits after ~6.5 s),
the messages stay in kombu's ``unacked`` hash and come back after the visibility timeout: late,
never lost. A single unsupervised process (``WORKER_PROCESSES=1``) keeps kombu's order.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Final

from celery.worker.state import active_requests

logger = logging.getLogger(__name__)

REQUEUE_FILE_ENV: Final = "WORKER_REQUEUE_FILE"


def hand_off_running(channel: Any) -> list[str]:
    """In the stopping process: record the running late-ack tasks' tags, keep kombu from restoring them."""
    path = os.environ.get(REQUEUE_FILE_ENV)
    if not path or channel is None:
        return []
    tags = [
        str(request.message.delivery_tag)
        for request in tuple(active_requests)
        if request.task.acks_late and not request.acknowledged
    ]
    if not tags:
        return []
    try:
        Path(path).write_text(json.dumps(tags))
    except OSError as exc:  # then kombu requeues them at the channel close, as without a supervisor
        logger.warning("cannot hand the running tasks to the supervisor (%s): %s", path, exc)
        return []
    for tag in tags:
        channel.qos._delivered.pop(tag, None)
    logger.warning("%d running task(s) handed to the supervisor, requeued once this process has exited", len(tags))
    return tags


def requeue_after_exit(path: Path, app: Any) -> int:
    """In the supervisor, after the process that wrote ``path`` has exited: requeue those messages."""
    try:
        tags = json.loads(path.read_text())
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as exc:
        logger.error("cannot read %s (%s): those tasks return after the visibility timeout", path, exc)
        return 0
    with app.connection_for_write() as connection:
        qos = connection.default_channel.qos
        for tag in tags:
            qos.restore_by_tag(tag, leftmost=True)
    path.unlink(missing_ok=True)
    return len(tags)
