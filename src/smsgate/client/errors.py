"""Exceptions the SDK raises. One class per error ``type`` of the API.

SmsgateError
├── APIConnectionError          the server could not be reached (after retries)
├── SmsgateConfigError          no API key found in arguments, env or credentials file
└── APIStatusError              the server answered with an error envelope
    ├── InvalidRequestError       400/413/422 invalid_request
    ├── AuthenticationError       401 authentication_error
    ├── InsufficientCreditError   402 insufficient_credit
    ├── PermissionDeniedError     403 permission_denied
    ├── NotFoundError             404 not_found
    ├── ConflictError             409 conflict
    ├── RateLimitError            429 rate_limit (``retry_after`` in seconds)
    └── APIError                  5xx api_error
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SmsgateError(Exception):
    """Base of every SDK error."""


class SmsgateConfigError(SmsgateError):
    pass


class APIConnectionError(SmsgateError):
    pass


class APIStatusError(SmsgateError):
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
        super().__init__(message)
        self.status = status
        self.type = type
        self.code = code
        self.message = message
        self.param = param
        self.request_id = request_id
        self.headers = dict(headers or {})

    def __str__(self) -> str:
        where = f" (param: {self.param})" if self.param else ""
        return f"{self.status} {self.code}: {self.message}{where}"


class InvalidRequestError(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class InsufficientCreditError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    @property
    def retry_after(self) -> float | None:
        value = self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class APIError(APIStatusError):
    pass


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
BY_STATUS: dict[int, str] = {
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


def from_response(status: int, headers: Mapping[str, str], body: Any) -> APIStatusError:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    type_ = str(error.get("type") or BY_STATUS.get(status, "api_error"))
    cls = BY_TYPE.get(type_, APIError if status >= 500 else InvalidRequestError)
    return cls(
        status=status,
        type=type_,
        code=str(error.get("code") or type_),
        message=str(error.get("message") or f"HTTP {status}"),
        param=error.get("param"),
        request_id=error.get("request_id") or headers.get("x-request-id"),
        headers={k.lower(): v for k, v in headers.items()},
    )
