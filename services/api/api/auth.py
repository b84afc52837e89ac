"""Bearer API keys, compared in constant time against every configured key."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An API key from API_KEYS or API_KEYS_FILE, sent as `Authorization: Bearer <key>`.",
)


@dataclass(frozen=True)
class Caller:
    """Who made the request: a stable, non-secret id of the key used (scopes idempotency keys)."""

    key_id: str


class ApiKeys:
    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = tuple(key.encode() for key in keys)
        if not self._keys:
            raise ValueError("ApiKeys needs at least one key")
        self._callers = {key: Caller(key_id=hashlib.sha256(key).hexdigest()[:16]) for key in self._keys}

    def identify(self, presented: str) -> Caller | None:
        """The caller whose key matches, or None; compares against all keys, whatever matches first."""
        candidate = presented.encode()
        matched: bytes | None = None
        for key in self._keys:
            if secrets.compare_digest(candidate, key):
                matched = key
        if matched is None:
            return None
        return self._callers[matched]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def require_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Caller:
    """FastAPI dependency: 401 unless the request carries a valid bearer key.

    ``async`` though it does no I/O: FastAPI runs a plain ``def`` dependency in its thread
    pool, a thread hop per request for a few microseconds of work.
    """
    if credentials is None:
        raise _unauthorized("missing API key: send the header 'Authorization: Bearer <key>'")
    keys: ApiKeys = request.app.state.api_keys
    caller = keys.identify(credentials.credentials)
    if caller is None:
        raise _unauthorized("invalid API key: use one of the keys in API_KEYS or API_KEYS_FILE")
    return caller


CallerDep = Annotated[Caller, Depends(require_caller)]
