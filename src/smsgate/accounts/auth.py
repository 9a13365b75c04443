"""Bearer-key authentication and permission checks, as FastAPI dependencies."""

from __future__ import annotations

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


async def authenticate(request: Request) -> AuthContext:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed(
            "No API key given. Send it as 'Authorization: Bearer <key>'.",
            code="missing_api_key",
        )
    async with request.app.state.db.reader() as session:
        key = await repository.key_by_hash(session, hash_key(token))
    if key is None:
        raise AuthenticationFailed("The API key is not valid.", code="invalid_api_key")
    if key.revoked_at is not None:
        raise AuthenticationFailed("The API key has been revoked.", code="revoked_api_key")
    ctx = AuthContext(key.project_id, key.id, frozenset(key.permissions))
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
