"""kombu's Redis transport with one fix: closing a channel whose BRPOP connection just died.

kombu 5.7.0 (with Celery 5.7.0 and redis-py 8.1) crashes a busy worker when Redis goes away:

1. The consumer sees the connection error and calls ``connection.collect()``. That closes the
   channel, whose ``close()`` first reads the pending BRPOP reply; on the dead socket the read
   raises a ConnectionError, which ``collect()`` swallows. The channel is left open and
   ``collect()`` detaches the transport from the connection.
2. Celery then calls ``connection.close()``. The channel's second ``close()`` gets past the read and
   tries to requeue its unacked messages through a new client; building it reads the detached
   transport's settings and raises ``AttributeError: 'NoneType' object has no attribute 'hostname'``.
   That is not a connection error, so it escapes: "Unrecoverable error", and the worker exits.

Here ``close()`` finishes the job the first time: after the failed read it closes again while the
transport is still attached. Requeueing then fails with a connection error (Redis is down), which
kombu ignores; the unacked messages stay in Redis and are redelivered after the visibility timeout.
tests/worker/test_faults.py (Redis restarted while the worker is busy) fails without this.
"""

from __future__ import annotations

from kombu.transport import redis


class Channel(redis.Channel):
    def close(self) -> None:
        try:
            super().close()  # type: ignore[no-untyped-call]
        except self.connection_errors:
            if self.closed:
                raise
            # The BRPOP read failed before the channel was marked closed; _in_poll is now cleared,
            # so this pass closes it for real (and may raise a connection error of its own).
            super().close()  # type: ignore[no-untyped-call]


class Transport(redis.Transport):
    Channel = Channel
