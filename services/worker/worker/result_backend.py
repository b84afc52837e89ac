"""Celery's Redis result backend, storing a result in one round trip instead of two.

Celery's ``_store_result`` first GETs the current meta (so a late duplicate never overwrites a
SUCCESS), then SETs and PUBLISHes it: two round trips per state written, about 0.5 ms of a no-op
task's budget (docs/benchmarks.md (b)). Here one Lua script does the same three steps inside Redis,
so the guarantee holds and the format is unchanged: the API reads results with the stock backend.
"""

from __future__ import annotations

from typing import Any, Final

from celery import states
from celery.backends.redis import RedisBackend as CeleryRedisBackend
from celery.exceptions import BackendStoreError
from kombu.utils.encoding import bytes_to_str

# KEYS[1] the result key; ARGV[1] the encoded meta, ARGV[2] seconds to keep it (0: forever).
STORE_UNLESS_SUCCEEDED: Final = """
local current = redis.call('GET', KEYS[1])
if current then
  local ok, meta = pcall(cjson.decode, current)
  if ok and type(meta) == 'table' and meta['status'] == 'SUCCESS' then return 0 end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
"""


class RedisBackend(CeleryRedisBackend):  # type: ignore[misc]
    def _store_result(
        self, task_id: str, result: Any, state: str, traceback: Any = None, request: Any = None, **kwargs: Any
    ) -> Any:
        meta = self._get_result_meta(result=result, state=state, traceback=traceback, request=request)
        meta["task_id"] = bytes_to_str(task_id)  # type: ignore[no-untyped-call]
        value = self.encode(meta)
        if isinstance(value, str) and len(value) > self._MAX_STR_VALUE_SIZE:
            raise BackendStoreError("value too large for Redis backend", state=state, task_id=task_id)
        expires = self.failure_expires if state == states.FAILURE else self.expires
        self.ensure(self._store_unless_succeeded, (self.get_key_for_task(task_id), value, int(expires or 0)))
        return result

    def _store_unless_succeeded(self, key: bytes, value: str, expires: int) -> None:
        script = getattr(self, "_store_script", None)
        if script is None:
            # redis-py's Script runs EVALSHA and falls back to EVAL after a restart flushed the cache.
            script = self._store_script = self.client.register_script(STORE_UNLESS_SUCCEEDED)
        script(keys=[key], args=[value, expires])
