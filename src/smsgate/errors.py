"""The error tree. Every failure the API answers is one of these.

    SmsgateError(status, type, code)
    ├── InvalidRequest            400 invalid_request   (malformed_json, ...)
    │   ├── MethodNotAllowed      405 invalid_request   method_not_allowed
    │   ├── RequestTooLarge       413 invalid_request   request_too_large
    │   └── Unprocessable         422 invalid_request   (invalid_phone_number, body_too_long, …)
    ├── AuthenticationFailed      401 authentication_error
    ├── InsufficientCredit        402 insufficient_credit
    ├── PermissionDenied          403 permission_denied
    ├── NotFound                  404 not_found
    ├── Conflict                  409 conflict          (invalid_state, idempotency_…_in_progress)
    ├── RateLimited               429 rate_limit        (carries Retry-After)
    └── ServiceError              500/503 api_error     (internal_error, unavailable)

A class knows its HTTP status, ``type`` and default ``code``; ``errors.handlers``
in ``app.py`` renders one envelope for all of them:
``{"error": {"type", "code", "message", "param", "request_id"}}``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SmsgateError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "api_error"
    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.param = param
        self.headers = headers or {}

    def to_dict(self, request_id: str | None = None) -> dict[str, Any]:
        return {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "request_id": request_id,
        }


class InvalidRequest(SmsgateError):
    status = 400
    type = "invalid_request"
    default_code = "invalid_request"


class MethodNotAllowed(InvalidRequest):
    status = 405
    default_code = "method_not_allowed"


class RequestTooLarge(InvalidRequest):
    status = 413
    default_code = "request_too_large"


class Unprocessable(InvalidRequest):
    status = 422
    default_code = "invalid_parameter"


class AuthenticationFailed(SmsgateError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class InsufficientCredit(SmsgateError):
    status = 402
    type = "insufficient_credit"
    default_code = "insufficient_credit"


class PermissionDenied(SmsgateError):
    status = 403
    type = "permission_denied"
    default_code = "missing_permission"


class NotFound(SmsgateError):
    status = 404
    type = "not_found"
    default_code = "not_found"


class Conflict(SmsgateError):
    status = 409
    type = "conflict"
    default_code = "invalid_state"


class RateLimited(SmsgateError):
    status = 429
    type = "rate_limit"
    default_code = "rate_limited"


class ServiceError(SmsgateError):
    status = 500
    type = "api_error"
    default_code = "internal_error"


class Unavailable(ServiceError):
    status = 503
    default_code = "unavailable"
