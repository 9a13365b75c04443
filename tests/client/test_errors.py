"""Error answers become one exception class per error type, with everything they said."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from smsgate.client import (
    APIError,
    APIStatusError,
    AuthenticationError,
    ConflictError,
    InsufficientCreditError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SmsgateError,
)
from smsgate.client.errors import from_response, parse_retry_after
from tests.client.helpers import KEY, Recorder, error, sync_client


@pytest.mark.parametrize(
    ("status", "type_", "cls"),
    [
        (400, "invalid_request", InvalidRequestError),
        (401, "authentication_error", AuthenticationError),
        (402, "insufficient_credit", InsufficientCreditError),
        (403, "permission_denied", PermissionDeniedError),
        (404, "not_found", NotFoundError),
        (409, "conflict", ConflictError),
        (413, "invalid_request", InvalidRequestError),
        (422, "invalid_request", InvalidRequestError),
        (429, "rate_limit", RateLimitError),
        (500, "api_error", APIError),
        (503, "api_error", APIError),
    ],
)
def test_each_error_type_maps_to_its_class(
    status: int, type_: str, cls: type[APIStatusError]
) -> None:
    handler = Recorder(error(status, type_, "the_code", headers={"X-Request-Id": "req_hdr"}))
    with pytest.raises(cls) as info:
        sync_client(handler, max_retries=0).sms.status("sms_1")
    e = info.value
    assert isinstance(e, SmsgateError) and isinstance(e, APIStatusError)
    assert (e.status, e.type, e.code, e.param) == (status, type_, "the_code", "to")
    assert e.message == "Something is wrong." and e.request_id == "req_1"
    assert e.headers["x-request-id"] == "req_hdr"
    assert len(handler.requests) == 1


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (402, InsufficientCreditError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (405, InvalidRequestError),
        (409, ConflictError),
        (413, InvalidRequestError),
        (422, InvalidRequestError),
        (429, RateLimitError),
        (500, APIError),
        (502, APIError),
        (503, APIError),
    ],
)
def test_without_an_envelope_the_status_decides(status: int, cls: type[APIStatusError]) -> None:
    """A proxy's HTML page, an empty body or an unknown type still give the right class."""
    for body in (None, {"error": {"type": "a_type_from_the_future", "code": "x", "message": "m"}}):
        headers = {"X-Request-Id": "req_proxy"}
        e = from_response(status, headers, body)
        assert type(e) is cls and e.status == status
        assert e.request_id == "req_proxy"
    handler = Recorder(httpx.Response(status, text="<html>Bad gateway</html>"))
    with pytest.raises(cls) as info:
        sync_client(handler, max_retries=0).account.me()
    assert info.value.message == f"The server answered HTTP {status}"
    assert info.value.code == info.value.type


def test_rate_limit_error_carries_retry_after_and_limits() -> None:
    headers = {
        "Retry-After": "7",
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1795000000",
    }
    handler = Recorder(error(429, "rate_limit", "rate_limited", headers=headers))
    with pytest.raises(RateLimitError) as info:
        sync_client(handler, max_retries=0).sms.send("+15005550006", "x")
    e = info.value
    assert e.retry_after == 7.0
    assert (e.limit, e.remaining, e.reset) == (100, 0, 1795000000)
    assert "Retry after 7s" in str(e)
    assert from_response(429, {}, None).retry_after is None  # type: ignore[attr-defined]


def test_retry_after_as_http_date_and_garbage() -> None:
    now = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 25 Nov 2026 10:00:12 GMT", now) == 12.0
    assert parse_retry_after("Wed, 25 Nov 2026 09:00:00 GMT", now) == 0.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after(None) is None


def test_str_is_a_useful_sentence() -> None:
    e = from_response(
        400,
        {},
        {
            "error": {
                "type": "invalid_request",
                "code": "invalid_phone_number",
                "message": "'+1234' is not a valid phone number.",
                "param": "to",
                "request_id": "req_9",
            }
        },
    )
    assert str(e) == (
        "'+1234' is not a valid phone number. (HTTP 400 invalid_request, "
        "code invalid_phone_number, param to, request req_9)"
    )
    assert "InvalidRequestError" in repr(e) and "invalid_phone_number" in repr(e)


def test_the_key_never_reaches_an_error() -> None:
    handler = Recorder(error(401, "authentication_error", "bad_key", message=f"Bad key {KEY}"))
    with pytest.raises(AuthenticationError) as info:
        sync_client(handler).account.me()
    e = info.value
    for text in (str(e), repr(e), e.message, repr(e.headers), repr(e.args)):
        assert KEY not in text
    assert "Bad key sg_live_" in e.message


def test_connection_and_config_errors_have_the_common_attributes() -> None:
    e = SmsgateError("boom")
    assert (e.status, e.type, e.code, e.param, e.request_id, e.headers) == (
        None,
        None,
        None,
        None,
        None,
        {},
    )
    assert str(e) == "boom"
