"""Exceptions the SDK raises. One class per error ``type`` of the API.

SmsgateError                    base: catch this to catch everything the SDK raises
├── SmsgateConfigError          no API key (or a bad URL) in arguments, env or credentials file
├── APIConnectionError          the server could not be reached (after the retries)
│   └── APITimeoutError           ... because it did not answer in time
└── APIStatusError              the server answered with an error envelope
    ├── InvalidRequestError       400/413/422 invalid_request
    ├── AuthenticationError       401 authentication_error
    ├── InsufficientCreditError   402 insufficient_credit
    ├── PermissionDeniedError     403 permission_denied
    ├── NotFoundError             404 not_found
    ├── ConflictError             409 conflict
    ├── RateLimitError            429 rate_limit (``retry_after`` in seconds)
    └── APIError                  5xx api_error (and answers the SDK cannot read)

Every error has the attributes ``status``, ``type``, ``code``, ``message``, ``param``,
``request_id`` and ``headers`` (the answer's headers, lower-cased); those the error has
no value for (a connection error has no status) are ``None`` (``headers``: empty).
Nothing here ever holds the API key: it is only in the request, never in an answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any


class SmsgateError(Exception):
    """Base of every SDK error."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.request_id = request_id
        self.headers: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class SmsgateConfigError(SmsgateError):
    """The client could not be set up: no API key found, or an unusable URL."""


class APIConnectionError(SmsgateError):
    """No answer from the server: refused, reset, DNS, TLS... (after the retries)."""


class APITimeoutError(APIConnectionError):
    """The server did not answer within ``timeout`` seconds (after the retries)."""


class APIStatusError(SmsgateError):
    """The server answered with a non-2xx status and (usually) an error envelope."""

    status: int
    type: str
    code: str

    def __init__(
        self,
        status: int,
        type: str,
        code: str,
        message: str,
        param: str | None = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            message,
            status=status,
            type=type,
            code=code,
            param=param,
            request_id=request_id,
            headers=headers,
        )

    def __str__(self) -> str:
        details = [f"HTTP {self.status} {self.type}", f"code {self.code}"]
        if self.param:
            details.append(f"param {self.param}")
        if self.request_id:
            details.append(f"request {self.request_id}")
        return f"{self.message.rstrip('.')}. ({', '.join(details)})"


class InvalidRequestError(APIStatusError):
    """400/413/422: the request was wrong (see ``param`` and ``code``)."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, unknown or revoked."""


class InsufficientCreditError(APIStatusError):
    """402: the project cannot pay for this message."""


class PermissionDeniedError(APIStatusError):
    """403: the API key lacks the permission this call needs."""


class NotFoundError(APIStatusError):
    """404: no such message, batch, passcode request... in this project."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state (or an idempotency key in use)."""


class RateLimitError(APIStatusError):
    """429: too many requests. ``retry_after``: seconds the server asks us to wait.

    ``limit``, ``remaining`` and ``reset`` come from the ``X-RateLimit-*`` headers.
    """

    def __init__(
        self,
        status: int,
        type: str,
        code: str,
        message: str,
        param: str | None = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, type, code, message, param, request_id, headers)
        self.retry_after: float | None = parse_retry_after(self.headers.get("retry-after"))
        self.limit = _int_or_none(self.headers.get("x-ratelimit-limit"))
        self.remaining = _int_or_none(self.headers.get("x-ratelimit-remaining"))
        self.reset = _int_or_none(self.headers.get("x-ratelimit-reset"))

    def __str__(self) -> str:
        text = super().__str__()
        if self.retry_after is not None:
            text += f" Retry after {self.retry_after:g}s."
        return text


class APIError(APIStatusError):
    """5xx: the server failed (the SDK already retried), or sent an unreadable answer."""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


BY_TYPE: dict[str, type[APIStatusError]] = {
    "invalid_request": InvalidRequestError,
    "authentication_error": AuthenticationError,
    "insufficient_credit": InsufficientCreditError,
    "permission_denied": PermissionDeniedError,
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "rate_limit": RateLimitError,
    "api_error": APIError,
}
TYPE_BY_STATUS: dict[int, str] = {
    400: "invalid_request",
    401: "authentication_error",
    402: "insufficient_credit",
    403: "permission_denied",
    404: "not_found",
    409: "conflict",
    413: "invalid_request",
    422: "invalid_request",
    429: "rate_limit",
}


def _type_for_status(status: int) -> str:
    if status in TYPE_BY_STATUS:
        return TYPE_BY_STATUS[status]
    return "api_error" if status >= 500 else "invalid_request"


def from_response(
    status: int,
    headers: Mapping[str, str],
    body: Any,
    redact: Callable[[str], str] = str,
) -> APIStatusError:
    """The exception for an error answer: by ``error.type``, else by HTTP status.

    ``redact`` cleans the server's message (the client masks its key with it).
    """
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    by_status = _type_for_status(status)
    type_ = error.get("type") if isinstance(error.get("type"), str) else None
    cls = BY_TYPE.get(type_ or "") or BY_TYPE[by_status]
    lowered = {k.lower(): v for k, v in headers.items()}
    param = error.get("param")
    request_id = error.get("request_id") or lowered.get("x-request-id")
    return cls(
        status=status,
        type=type_ or by_status,
        code=str(error.get("code") or type_ or by_status),
        message=redact(str(error.get("message") or f"The server answered HTTP {status}")),
        param=param if isinstance(param, str) else None,
        request_id=str(request_id) if request_id else None,
        headers=lowered,
    )
