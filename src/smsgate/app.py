"""``create_app(settings)``: routers, middleware, the one error handler, the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smsgate import __version__
from smsgate.accounts.auth import KeyCache
from smsgate.accounts.endpoints import router as account_router
from smsgate.api.limits import BodyLimitMiddleware
from smsgate.api.nul import NulGuardMiddleware
from smsgate.config import Settings
from smsgate.errors import (
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    RequestTooLarge,
    ServiceError,
    SmsgateError,
    Unavailable,
    Unprocessable,
)
from smsgate.gateway import Gateway
from smsgate.ids import new_id
from smsgate.inbound.endpoints import router as inbound_router
from smsgate.messages.endpoints import router as messages_router
from smsgate.otp.endpoints import router as otp_router
from smsgate.sandbox.endpoints import router as sandbox_router
from smsgate.vendors.endpoints import router as hooks_router

log = logging.getLogger("smsgate.api")


class RequestIdMiddleware:
    """Gives every request a ``req_…`` id, echoed in ``X-Request-Id`` and in error bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id("req")
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)


def error_response(request: Request, exc: SmsgateError) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    return JSONResponse(
        {"error": exc.to_dict(request_id)}, status_code=exc.status, headers=exc.headers
    )


def _param(loc: Sequence[Any]) -> str | None:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or None


def from_validation_error(exc: RequestValidationError) -> SmsgateError:
    errors = exc.errors()
    first = errors[0] if errors else {"type": "value_error", "loc": (), "msg": "invalid"}
    kind = str(first["type"])
    if kind == "json_invalid":
        return InvalidRequest(
            "The request body is not valid JSON.", code="malformed_json", param=None
        )
    param = _param(first.get("loc", ()))
    ctx = first.get("ctx") if isinstance(first, dict) else None
    if kind == "nul_character" and isinstance(ctx, dict) and ctx.get("where"):
        param = str(ctx["where"])
    if kind == "missing" and param is None:
        return InvalidRequest(
            "A JSON body is required (Content-Type: application/json).",
            code="malformed_json",
        )
    code = {"missing": "missing_parameter", "extra_forbidden": "unknown_parameter"}.get(
        kind, "invalid_parameter"
    )
    message = f"{param}: {first['msg']}." if param else f"{first['msg']}."
    return Unprocessable(message, code=code, param=param)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SmsgateError)
    async def _smsgate(request: Request, exc: SmsgateError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request, from_validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error: SmsgateError
        if exc.status_code == 404:
            error = NotFound(f"No route {request.method} {request.url.path}.")
        elif exc.status_code == 413:
            error = RequestTooLarge("The request body is too large.")
        elif exc.status_code == 405:
            error = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}.")
        elif exc.status_code < 500:
            error = InvalidRequest(str(exc.detail))
        else:
            error = ServiceError(str(exc.detail))
        return error_response(request, error)

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "database unavailable on %s %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
        )
        return error_response(request, Unavailable("The database is not reachable; retry."))

    for unreachable in (OperationalError, InterfaceError, ConnectionError, TimeoutError):
        app.add_exception_handler(unreachable, _unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, ServiceError("Something went wrong on our side."))


def create_app(
    settings: Settings | None = None,
    *,
    gateway: Gateway | None = None,
    background: bool | None = None,
) -> FastAPI:
    """Build the ASGI app. ``background`` (default: ``settings.dispatch_enabled``) runs the
    dispatcher and the simulator's receipts in this process."""
    settings = settings or (gateway.settings if gateway else Settings())
    run_background = settings.dispatch_enabled if background is None else background

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gw = gateway or Gateway.build(settings)
        app.state.gateway = gw
        app.state.db = gw.db
        app.state.settings = gw.settings
        app.state.key_cache = KeyCache(gw.settings.auth_cache_seconds)
        if run_background:
            gw.start_background()
        try:
            yield
        finally:
            if gateway is None:
                await gw.aclose()
            else:
                await gw.stop_background()

    app = FastAPI(
        title="smsgate",
        version=__version__,
        description="Self-hosted SMS gateway.",
        lifespan=lifespan,
        strict_content_type=False,
    )
    install_error_handlers(app)
    app.include_router(otp_router)
    app.include_router(messages_router)
    app.include_router(sandbox_router)
    app.include_router(inbound_router)
    app.include_router(account_router)
    app.include_router(hooks_router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(request: Request) -> dict[str, str]:
        try:
            async with request.app.state.db.reader() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:
            raise Unavailable("The database is not reachable.") from exc
        return {"status": "ready"}

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(NulGuardMiddleware)
    app.add_middleware(RequestIdMiddleware)
    return app
