"""Google-signed ID tokens: the second kind of bearer credential, for Cloud Scheduler (docs/schedules.md).

Both kinds arrive as ``Authorization: Bearer <credential>``. An ID token is a JWT: three
base64url parts joined by dots. API keys may not look like that (``ApiKeys`` refuses such a
key at start-up and on reload), so the shape alone decides which check a credential gets.

A token is accepted when google-auth verifies its signature against Google's published
certificates, its audience is this API's URL (``GOOGLE_ID_AUDIENCE``), its issuer is Google,
and its verified ``email`` is in ``SCHEDULER_CALLERS``. A bad token is a 401; a good token from
an account not on the list is a 403.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import anyio.to_thread
from google.auth import exceptions as google_exceptions
from google.auth import jwt

GOOGLE_CERTS_URL: Final = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS: Final = frozenset({"https://accounts.google.com", "accounts.google.com"})
# Used when the certificate response has no max-age; Google's is a few hours.
DEFAULT_CERTS_MAX_AGE_SECONDS: Final = 300
CLOCK_SKEW_SECONDS: Final = 10

_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_MAX_AGE = re.compile(r"max-age=(\d+)")


def looks_like_jwt(credential: str) -> bool:
    """Three non-empty base64url parts joined by dots: how an ID token is told from an API key."""
    return _JWT_SHAPE.fullmatch(credential) is not None


class IdTokenRejected(Exception):
    """The token is not accepted; ``status`` is 401 (not a valid token for us) or 403 (not an allowed caller)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class GoogleCerts:
    """Google's signing certificates (key id -> PEM), fetched once and kept for their max-age."""

    url: str = GOOGLE_CERTS_URL
    _certs: Mapping[str, str] = field(default_factory=dict)
    _expires: float = 0.0

    async def current(self) -> Mapping[str, str]:
        if time.monotonic() >= self._expires:
            # A blocking fetch, in a thread; it happens once per max-age, not per request.
            self._certs, max_age = await anyio.to_thread.run_sync(self._fetch)
            self._expires = time.monotonic() + max_age
        return self._certs

    def _fetch(self) -> tuple[dict[str, str], int]:
        with urllib.request.urlopen(self.url, timeout=5) as response:  # noqa: S310 (https or a local test server)
            certs = json.loads(response.read())
            match = _MAX_AGE.search(response.headers.get("Cache-Control", ""))
        return certs, int(match.group(1)) if match else DEFAULT_CERTS_MAX_AGE_SECONDS


@dataclass
class GoogleIdTokens:
    audience: str
    callers: frozenset[str]
    certs: GoogleCerts

    @classmethod
    def create(cls, audience: str, callers: Iterable[str], certs_url: str = GOOGLE_CERTS_URL) -> GoogleIdTokens:
        return cls(audience=audience, callers=frozenset(callers), certs=GoogleCerts(url=certs_url))

    async def verify(self, token: str) -> str:
        """The caller's service account email, or ``IdTokenRejected``."""
        try:
            certs = await self.certs.current()
        except (OSError, ValueError) as exc:
            raise IdTokenRejected(401, f"cannot fetch Google's signing certificates ({exc}); retry later") from None
        try:
            claims: dict[str, Any] = jwt.decode(  # type: ignore[no-untyped-call]
                token, certs=certs, audience=self.audience, clock_skew_in_seconds=CLOCK_SKEW_SECONDS
            )
        except (ValueError, google_exceptions.GoogleAuthError) as exc:
            raise IdTokenRejected(
                401, f"invalid Google ID token ({exc}); the OIDC audience must be this API's URL {self.audience}"
            ) from None
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise IdTokenRejected(401, f"ID token not issued by Google (iss={claims.get('iss')!r})")
        email = claims.get("email")
        if not isinstance(email, str) or claims.get("email_verified") is not True:
            raise IdTokenRejected(401, "ID token carries no verified email; mint it for a service account")
        if email not in self.callers:
            raise IdTokenRejected(
                403, f"{email} may not call this API: add it to SCHEDULER_CALLERS (stack config scheduler.callers)"
            )
        return email
