"""Bearer-key authentication and permission checks, as FastAPI dependencies."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from smsgate.accounts import repository
from smsgate.accounts.keys import hash_key
from smsgate.errors import AuthenticationFailed, PermissionDenied


@dataclass(frozen=True, slots=True)
class AuthContext:
    project_id: str
    key_id: str
    permissions: frozenset[str]

    def allows(self, permission: str) -> bool:
        return "admin" in self.permissions or permission in self.permissions


class KeyCache:
    """Keys this process looked up recently, by hash, for ``ttl`` seconds.

    Every request needs its key, and at load the lookup was a sixth of a send's CPU.
    Only valid keys are kept (an unknown token is looked up each time, so random
    tokens cannot fill it), and the cache is bounded.
    """

    def __init__(self, ttl: float, *, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[float, AuthContext]] = {}

    def get(self, key_hash: str) -> AuthContext | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key_hash]
            return None
        return entry[1]

    def put(self, key_hash: str, ctx: AuthContext, read_at: float) -> None:
        """``read_at``: ``time.monotonic()`` taken before the database was asked, so the
        entry never outlives ``ttl`` from what the database said."""
        if self._ttl <= 0:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key_hash] = (read_at + self._ttl, ctx)


async def authenticate(request: Request) -> AuthContext:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed(
            "No API key given. Send it as 'Authorization: Bearer <key>'.",
            code="missing_api_key",
        )
    key_hash = hash_key(token)
    cache: KeyCache = request.app.state.key_cache
    ctx = cache.get(key_hash)
    if ctx is None:
        read_at = time.monotonic()
        async with request.app.state.db.reader() as session:
            key = await repository.key_by_hash(session, key_hash)
        if key is None:
            raise AuthenticationFailed("The API key is not valid.", code="invalid_api_key")
        if key.revoked_at is not None:
            raise AuthenticationFailed("The API key has been revoked.", code="revoked_api_key")
        ctx = AuthContext(key.project_id, key.id, frozenset(key.permissions))
        cache.put(key_hash, ctx, read_at)
    request.state.auth = ctx
    return ctx


def require(permission: str) -> Callable[[Request], Awaitable[AuthContext]]:
    """A dependency: the caller's key must carry ``permission`` (or ``admin``)."""

    async def dependency(request: Request) -> AuthContext:
        ctx = await authenticate(request)
        if not ctx.allows(permission):
            raise PermissionDenied(
                f"This API key lacks the '{permission}' permission.", code="missing_permission"
            )
        return ctx

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    return dependency
