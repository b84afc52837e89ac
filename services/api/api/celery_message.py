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

Per message only the body (the kwargs), the task id, ``kwargsrepr`` and the delivery tag
differ: ``MessageBuilder.build`` fills them into a template that ``build_with_celery`` (the steps
above, Celery's and kombu's code) rendered once per task, queue and priority, instead of
running those steps for every request (a tenth of an enqueue's CPU, docs/benchmarks.md).

kombu and Celery are pinned (services/api/requirements.txt). ``tests/api/test_celery_message.py``
publishes the same task with the real ``send_task`` and through this module into a real Redis
and compares the two entries byte for byte (the delivery tag aside), and the template against
``build_with_celery`` for many payloads: a kombu or Celery upgrade that changes the
envelope fails that test. Not mirrored, because the API's configuration never uses them:
per-queue ``x-expires`` (``PEXPIRE``), ``global_keyprefix``, compression, exchanges other than
the anonymous one, and the queue/binding declaration (the worker declares its queues itself).
"""

from __future__ import annotations

import json
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
_b64decode: Callable[[str], bytes] = _base64.decode
# What kombu's JSON writes for a str (json's own encoder, ensure_ascii), without an encoder object per call.
_json_string: Callable[[str], str] = json.encoder.encode_basestring_ascii

# A template's placeholders while it is built (``MessageBuilder._template``); no JSON escapes in them.
_MARK_ID: Final = "@@task-id@@"
_MARK_KWARGSREPR: Final = "@@kwargsrepr@@"
# The serialized body ``(args, kwargs, embed)`` of a task sent by name starts with no args.
_BODY_HEAD: Final = "[[], "


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
        self._templates: dict[tuple[str, str, int | None], tuple[str, str, str]] = {}

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
        """The Redis list to LPUSH to and the JSON entry to push: the task's template with this message's parts."""
        key = (task_name, queue, priority)
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = self._template(task_name, queue, priority)
        queue_list, envelope, body_tail = template
        kwargsrepr = fast_kwargsrepr(kwargs, self._kwargsrepr_maxsize) or saferepr(
            kwargs, self._kwargsrepr_maxsize, maxlevels=self.app.conf.task_repr_maxlevels
        )
        body = _BODY_HEAD + _json_dumps(kwargs) + body_tail
        return queue_list, envelope % {
            "body": _json_string(_b64encode(body.encode())),
            "id": _json_string(task_id),
            "kwargsrepr": _json_string(kwargsrepr),
            "tag": _json_string(str(uuid.uuid4())),
        }

    def _template(self, task_name: str, queue: str, priority: int | None) -> tuple[str, str, str]:
        """Celery's entry for this task with placeholders where a message differs: body, id, kwargsrepr, tag.

        Returned with the list to push to and the body's tail after the kwargs (``embed``).

        Built once per task, queue and priority (in the serving process: ``origin`` names its pid),
        from ``build_with_celery``'s own output, so the fixed parts are Celery's and kombu's bytes.
        """
        queue_list, entry = self.build_with_celery(task_name, {}, queue, _MARK_ID, priority, kwargsrepr=_MARK_KWARGSREPR)
        message = json.loads(entry)
        empty_body = _b64decode(message["body"]).decode()
        if not empty_body.startswith(_BODY_HEAD + "{}"):
            raise ValueError(f"Celery's task body has another shape than [args, kwargs, embed]: {empty_body!r}")
        body_tail = empty_body[len(_BODY_HEAD) + 2:]
        envelope = entry.replace("%", "%%")
        for placeholder, value, count in (
            ("%(body)s", message["body"], 1),
            ("%(id)s", _MARK_ID, 3),  # headers id and root_id, properties correlation_id
            ("%(kwargsrepr)s", _MARK_KWARGSREPR, 1),
            ("%(tag)s", message["properties"]["delivery_tag"], 1),
        ):
            quoted = _json_dumps(value)
            if envelope.count(quoted) != count:
                raise ValueError(f"Celery's envelope holds {quoted} {envelope.count(quoted)} times, not {count}")
            envelope = envelope.replace(quoted, placeholder)
        return queue_list, envelope, body_tail

    def build_with_celery(
        self,
        task_name: str,
        kwargs: dict[str, Any],
        queue: str,
        task_id: str,
        priority: int | None = None,
        kwargsrepr: str | None = None,
    ) -> tuple[str, str]:
        """``build``, every part computed by Celery's and kombu's code (the template's source; tests compare)."""
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
            # None: as_task_v2 uses saferepr
            kwargsrepr=kwargsrepr or fast_kwargsrepr(kwargs, self._kwargsrepr_maxsize),
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
