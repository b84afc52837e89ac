"""Bearer API keys, compared in constant time against every configured key, reloaded from their file.

Rotation without downtime (docs/api-keys.md): the keys file holds the old and the new key
while clients move over, then only the new one. ``KeysFileReloader`` reads API_KEYS_FILE
again every API_KEYS_RELOAD_SECONDS, so a removed key stops working within that time, with
no restart. Each read reads the file's content (Cloud Run's secret volumes may not change a
file's mtime), in a thread, so a slow read never blocks requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

import anyio.to_thread

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from api.google_identity import GoogleIdTokens, IdTokenRejected, looks_like_jwt

@dataclass(frozen=True)
class Caller:
    """Who made the request: a stable, non-secret id of the key used (scopes idempotency keys).

    ``google_account`` is set for a Google ID token from SCHEDULER_CALLERS: only such a caller's
    ``X-CloudScheduler-*`` headers are trusted (docs/schedules.md).
    """

    key_id: str
    google_account: str | None = None


log = logging.getLogger(__name__)


def _callers(keys: Iterable[str]) -> dict[bytes, Caller]:
    keys = tuple(keys)
    if any(looks_like_jwt(key) for key in keys):
        # The shape tells an API key from a Google ID token (api.google_identity).
        raise ValueError("an API key looks like a JWT (three dot-separated base64url parts); use keys without dots")
    encoded = tuple(key.encode() for key in keys)
    if not encoded:
        raise ValueError("ApiKeys needs at least one key")
    return {key: Caller(key_id=hashlib.sha256(key).hexdigest()[:16]) for key in encoded}


class ApiKeys:
    def __init__(self, keys: Iterable[str]) -> None:
        self._callers = _callers(keys)

    @property
    def key_ids(self) -> set[str]:
        return {caller.key_id for caller in self._callers.values()}

    def replace(self, keys: Iterable[str]) -> None:
        """Accept exactly ``keys`` from now on (one assignment: a request sees the old set or the new)."""
        self._callers = _callers(keys)

    def identify(self, presented: str) -> Caller | None:
        """The caller whose key matches, or None; compares against all keys, whatever matches first."""
        candidate = presented.encode()
        callers = self._callers
        matched: bytes | None = None
        for key in callers:
            if secrets.compare_digest(candidate, key):
                matched = key
        if matched is None:
            return None
        return callers[matched]


@dataclass
class KeysFileReloader:
    """Every ``interval`` seconds, ``read()`` the keys again and swap them into ``keys`` if they changed.

    A read that fails or finds no key keeps the current keys (an empty or half-written file
    must not lock every client out) and logs an error that says what to fix.
    """

    keys: ApiKeys
    read: Callable[[], tuple[str, ...]]
    interval: float

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.reload()

    async def reload(self) -> None:
        try:
            fresh = await anyio.to_thread.run_sync(self.read)
            if not fresh:
                raise ValueError("the file has no key")
        except (OSError, ValueError) as exc:
            log.error("API keys not reloaded, the current keys stay valid: %s; fix API_KEYS_FILE", exc)
            return
        before = self.keys.key_ids
        self.keys.replace(fresh)
        if self.keys.key_ids != before:
            log.info("API keys reloaded: %d key(s) valid", len(fresh))


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


class ApiKeyBearer(HTTPBearer):
    """FastAPI dependency: the ``Caller``, or 401 unless the request carries a valid bearer key
    or Google ID token (docs/schedules.md).

    A subclass of FastAPI's ``HTTPBearer`` so the OpenAPI spec still declares the scheme, but
    one dependency instead of two (the scheme, then a checker depending on it): dependency
    solving is a measurable share of an enqueue's CPU (docs/benchmarks.md). The keys are the
    app's (``create_app`` puts them on ``app.state``).
    """

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        credentials = await super().__call__(request)
        if credentials is None:
            raise _unauthorized("missing API key: send the header 'Authorization: Bearer <key>'")
        if looks_like_jwt(credentials.credentials):
            return await _google_caller(request, credentials.credentials)
        keys: ApiKeys = request.app.state.api_keys
        caller = keys.identify(credentials.credentials)
        if caller is None:
            raise _unauthorized("invalid API key: use one of the keys in API_KEYS or API_KEYS_FILE")
        return caller


def api_key_caller(request: Request) -> Caller | None:
    """The caller of a valid bearer API key, as ``ApiKeyBearer`` reads it; None for anything else.

    None (no or another scheme, a Google ID token, an unknown key) leaves the request to
    ``ApiKeyBearer``, which answers it: the enqueue fast lane (``api.enqueue_fast_lane``).
    """
    scheme, credentials = get_authorization_scheme_param(request.headers.get("Authorization"))
    if scheme.lower() != "bearer" or not credentials or looks_like_jwt(credentials):
        return None
    keys: ApiKeys = request.app.state.api_keys
    return keys.identify(credentials)


require_caller = ApiKeyBearer(
    auto_error=False,
    scheme_name="HTTPBearer",
    description="An API key from API_KEYS or API_KEYS_FILE, or a Google-signed ID token of an account in "
    "SCHEDULER_CALLERS, sent as `Authorization: Bearer <credential>`.",
)

async def _google_caller(request: Request, token: str) -> Caller:
    verifier: GoogleIdTokens | None = request.app.state.google_id_tokens
    if verifier is None:
        raise _unauthorized(
            "Google ID tokens are not accepted by this API (no SCHEDULER_CALLERS); send an API key"
        )
    try:
        email = await verifier.verify(token)
    except IdTokenRejected as exc:
        if exc.status == status.HTTP_403_FORBIDDEN:
            raise HTTPException(status.HTTP_403_FORBIDDEN, exc.detail) from None
        raise _unauthorized(exc.detail) from None
    return Caller(key_id=f"google:{email}", google_account=email)


CallerDep = Annotated[Caller, Depends(require_caller)]
