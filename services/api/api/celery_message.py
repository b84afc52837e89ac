"""The exact Redis list entry that Celery's ``send_task`` would LPUSH, built without a kombu connection.

The API publishes with one ``redis.asyncio`` pipeline (see ``publisher``), so it cannot use
``send_task``, which publishes synchronously through a kombu producer. This module builds the
same bytes with Celery's and kombu's own code where they expose it, and mirrors the rest:

1. ``app.amqp.create_task_message`` (Celery's ``AMQP.as_task_v2``): headers, properties
   (``correlation_id``, ``reply_to`` = ``app.thread_oid``) and the ``(args, kwargs, embed)`` body,
   as ``Celery.send_task`` calls it for a task sent by name.
2. ``AMQP.send_task_message`` (``celery/app/amqp.py``): a ``direct`` queue with no exchange becomes
   the anonymous exchange ``''`` with the queue name as routing key; ``delivery_mode`` from the
   queue's exchange or ``task_default_delivery_mode``.
3. ``kombu.Producer.publish`` / ``_prepare``: ``kombu.serialization.dumps`` with ``task_serializer``.
4. ``kombu.transport.virtual.Channel.prepare_message`` and ``basic_publish``
   (``_inplace_augment_message``): the envelope, the body base64-encoded (``body_encoding``),
   a ``delivery_tag`` (uuid4), ``delivery_info`` ``{exchange, routing_key}``.
5. ``kombu.transport.redis.Channel._put``: the list is ``_q_for_pri(queue, priority)`` and the
   entry is ``kombu.utils.json.dumps(message)``.

kombu and Celery are pinned (services/api/requirements.txt). ``tests/api/test_celery_message.py``
publishes the same task with the real ``send_task`` and through this module into a real Redis
and compares the two entries field by field: a kombu or Celery upgrade that changes the
envelope fails that test. Not mirrored, because the API's configuration never uses them:
per-queue ``x-expires`` (``PEXPIRE``), ``global_keyprefix``, compression, exchanges other than
the anonymous one, and the queue/binding declaration (the worker declares its queues itself).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from celery import Celery
from celery.utils.saferepr import saferepr
from task_contract import BrokerSettings, celery_connection_config
from kombu import serialization
from kombu.entity import maybe_delivery_mode
from kombu.transport.redis import Channel
from kombu.transport.virtual.base import Base64
from kombu.utils import json as kombu_json

from api.priority_lists import list_for_priority

# kombu's virtual transport defaults (Channel.body_encoding, default/min/max_priority).
BODY_ENCODING: Final = Channel.body_encoding
DEFAULT_PRIORITY: Final = Channel.default_priority
MIN_PRIORITY: Final = Channel.min_priority
MAX_PRIORITY: Final = Channel.max_priority

_base64 = Base64()
# kombu.entity.maybe_delivery_mode: "persistent" -> 2, "transient" -> 1; untyped upstream.
_delivery_mode: Callable[[Any], int] = maybe_delivery_mode
# kombu.serialization.dumps -> (content_type, content_encoding, bytes); untyped upstream.
_serialize: Callable[..., tuple[str, str, bytes]] = serialization.dumps
# Base64.encode, untyped upstream.
_b64encode: Callable[[bytes], str] = _base64.encode
# kombu's JSON (what the Redis transport's ``dumps`` is); untyped upstream.
_json_dumps: Callable[[Any], str] = kombu_json.dumps


def publisher_app(settings: BrokerSettings) -> Celery:
    """A Celery app for tasks sent by name (the worker's code is never imported).

    The API builds its messages with it (``celery_message``) and publishes them itself; its
    settings are still those ``send_task`` would publish with (tests compare the two).

    It has no result backend: ``send_task`` would otherwise SUBSCRIBE to every task's
    result channel, a connection and a subscription per submission that the API never
    reads (it polls results from Redis instead, see ``task_status``).
    """
    config = celery_connection_config(settings)
    timeout = settings.redis_connect_timeout_seconds
    config["broker_transport_options"] = {
        **config["broker_transport_options"],
        # A publish that gets no answer fails instead of blocking the thread.
        "socket_timeout": timeout,
    }
    config.update(
        result_backend=None,
        broker_connection_timeout=timeout,
        broker_connection_retry=False,
        task_publish_retry=False,
    )
    app = Celery("cloudrun-celery-api", set_as_current=False)
    app.conf.update(config)
    return app


_PLAIN_KEY: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def fast_kwargsrepr(kwargs: dict[str, Any], maxlen: int) -> str | None:
    """``saferepr(kwargs)`` without its token stream, for flat payloads of numbers, booleans and None.

    There ``saferepr`` renders exactly ``repr`` (numbers via ``str``, which equals ``repr`` for
    them); anything else (strings, containers, odd keys, a repr near ``maxlen``) returns None and
    goes through Celery's ``saferepr``. ``tests/api/test_celery_message.py`` checks the two agree.
    """
    for key, value in kwargs.items():
        if type(value) not in (int, float, bool) and value is not None:
            return None
        if not _PLAIN_KEY.match(key):
            return None
    text = repr(kwargs)
    return text if len(text) < maxlen else None


@dataclass(frozen=True)
class Route:
    """Where a queue's messages go: kombu's exchange, routing key and delivery mode for it."""

    queue: str
    exchange: str
    routing_key: str
    delivery_mode: int


class MessageBuilder:
    """Builds ``(redis list, entry)`` for a task sent by name, as ``send_task`` + kombu's Redis transport would."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.serializer: str = app.conf.task_serializer
        self._routes: dict[str, Route] = {}
        # What as_task_v2 would compute for every message sent by name without positional args.
        self._argsrepr: str = saferepr((), app.amqp.argsrepr_maxsize, maxlevels=app.conf.task_repr_maxlevels)
        self._kwargsrepr_maxsize: int = app.amqp.kwargsrepr_maxsize

    def route(self, queue_name: str) -> Route:
        route = self._routes.get(queue_name)
        if route is None:
            # celery.app.amqp.AMQP.send_task_message, for ``queue=<name>`` and no exchange.
            queue = self.app.amqp.queues[queue_name]
            exchange_type = getattr(queue.exchange, "type", "direct")
            if exchange_type != "direct":
                raise ValueError(f"queue {queue_name!r}: only direct (anonymous-exchange) routing is mirrored")
            mode = getattr(queue.exchange, "delivery_mode", None) or self.app.conf.task_default_delivery_mode
            route = Route(queue_name, "", queue_name, _delivery_mode(mode))
            self._routes[queue_name] = route
        return route

    def build(
        self, task_name: str, kwargs: dict[str, Any], queue: str, task_id: str, priority: int | None = None
    ) -> tuple[str, str]:
        """The Redis list to LPUSH to and the JSON entry to push."""
        app = self.app
        route = self.route(queue)
        # Celery.send_task -> AMQP.create_task_message (as_task_v2), args=None, by name.
        headers, properties, body, _sent_event = app.amqp.create_task_message(
            task_id,
            task_name,
            None,
            kwargs,
            reply_to=app.thread_oid,
            create_sent_event=app.conf.task_send_sent_event,
            ignore_result=None,
            argsrepr=self._argsrepr,
            kwargsrepr=fast_kwargsrepr(kwargs, self._kwargsrepr_maxsize),  # None: as_task_v2 uses saferepr
        )
        # kombu.Producer.publish: delivery mode, then _prepare (serialize).
        properties["delivery_mode"] = route.delivery_mode
        content_type, content_encoding, payload = _serialize(body, serializer=self.serializer)
        # kombu.transport.virtual.Channel.prepare_message.
        properties.setdefault("delivery_info", {})
        properties.setdefault("priority", priority or DEFAULT_PRIORITY)
        message: dict[str, Any] = {
            "body": payload,
            "content-encoding": content_encoding,
            "content-type": content_type,
            "headers": headers or {},
            "properties": properties,
        }
        # Channel.basic_publish -> _inplace_augment_message.
        message["body"] = _b64encode(message["body"])
        properties.update(body_encoding=BODY_ENCODING, delivery_tag=str(uuid.uuid4()))
        properties["delivery_info"].update(exchange=route.exchange, routing_key=route.routing_key)
        # kombu.transport.redis.Channel._put: _get_message_priority (clamped), _q_for_pri, dumps.
        try:
            clamped = max(min(int(properties["priority"]), MAX_PRIORITY), MIN_PRIORITY)
        except (TypeError, ValueError, KeyError):
            clamped = DEFAULT_PRIORITY
        return list_for_priority(route.routing_key, clamped), _json_dumps(message)
