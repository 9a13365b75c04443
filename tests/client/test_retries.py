"""Retries: which failures, how long to wait, one idempotency key per logical call."""

from __future__ import annotations

import json

import httpx
import pytest

from smsgate.client import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
)
from smsgate.client._core import RetryPolicy
from tests.client.helpers import RECORD, Recorder, error, record, sync_client


def ok(body: dict[str, object] | None = None) -> httpx.Response:
    return httpx.Response(201, json=body or RECORD)


def test_503_then_success_keeps_one_idempotency_key() -> None:
    handler = Recorder(error(503, "api_error"), error(503, "api_error"), ok())
    sleeps: list[float] = []
    sms = sync_client(handler, sleeps=sleeps).sms.send(to="+15005550006", body="hi")
    assert sms.sms_id == "sms_1"
    assert len(handler.requests) == 3 and len(sleeps) == 2
    key = handler.keys[0]
    assert key and len(key) == 32 and int(key, 16) >= 0  # a uuid4 hex
    assert handler.keys == [key, key, key]
    bodies = {r.content for r in handler.requests}
    assert len(bodies) == 1 and json.loads(bodies.pop()) == {"to": "+15005550006", "body": "hi"}


def test_each_logical_call_gets_its_own_key_and_the_callers_key_wins() -> None:
    handler = Recorder(ok())
    client = sync_client(handler)
    client.sms.send("+15005550006", "a")
    client.sms.send("+15005550006", "a")
    client.sms.send("+15005550006", "a", idempotency_key="order-42")
    client.sms.status("sms_1")
    first, second, mine, get = handler.keys
    assert first and second and first != second
    assert (mine, get) == ("order-42", None)
    assert "idempotency_key" not in json.loads(handler.requests[2].content)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_gives_up_after_max_retries(status: int) -> None:
    type_ = "rate_limit" if status == 429 else "api_error"
    handler = Recorder(error(status, type_))
    sleeps: list[float] = []
    client = sync_client(handler, sleeps=sleeps, max_retries=2)
    with pytest.raises(RateLimitError if status == 429 else APIError) as info:
        client.sms.send("+15005550006", "x")
    assert info.value.status == status
    assert len(handler.requests) == 3 and len(sleeps) == 2
    assert len(set(handler.keys)) == 1


def test_max_retries_zero_tries_once() -> None:
    handler = Recorder(error(503, "api_error"))
    with pytest.raises(APIError):
        sync_client(handler, max_retries=0).sms.status("sms_1")
    assert len(handler.requests) == 1


@pytest.mark.parametrize(
    ("status", "type_", "cls"),
    [
        (400, "invalid_request", InvalidRequestError),
        (404, "not_found", NotFoundError),
        (409, "conflict", ConflictError),
        (422, "invalid_request", InvalidRequestError),
    ],
)
def test_no_retry_on_4xx(status: int, type_: str, cls: type[Exception]) -> None:
    handler = Recorder(error(status, type_), ok())
    sleeps: list[float] = []
    with pytest.raises(cls):
        sync_client(handler, sleeps=sleeps).sms.send("+15005550006", "x")
    assert len(handler.requests) == 1 and sleeps == []


def test_409_for_our_own_request_still_in_progress_is_retried() -> None:
    """A retry after a timeout can find the first attempt still running: wait for it."""
    busy = error(409, "conflict", "idempotency_request_in_progress", param=None)
    replay = httpx.Response(201, json=RECORD, headers={"Idempotent-Replayed": "true"})
    handler = Recorder(httpx.ReadTimeout("slow"), busy, replay)
    sms = sync_client(handler).sms.send("+15005550006", "x")
    assert sms.sms_id == "sms_1" and len(handler.requests) == 3
    assert len(set(handler.keys)) == 1


def test_retry_after_is_honoured_and_capped() -> None:
    handler = Recorder(
        error(429, "rate_limit", headers={"Retry-After": "7"}),
        error(503, "api_error", headers={"Retry-After": "120"}),
        ok(),
    )
    sleeps: list[float] = []
    sync_client(handler, sleeps=sleeps).sms.send("+15005550006", "x")
    assert sleeps == [7.0, 30.0]


def test_backoff_is_exponential_with_full_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = RetryPolicy()
    assert (policy.base, policy.cap, policy.max_retries, policy.max_retry_after) == (
        0.25,
        8.0,
        3,
        30.0,
    )
    monkeypatch.setattr("random.uniform", lambda low, high: high)  # the top of each range
    assert [policy.backoff(n) for n in range(8)] == [0.25, 0.5, 1, 2, 4, 8, 8, 8]
    monkeypatch.undo()
    samples = [policy.backoff(3) for _ in range(500)]
    assert all(0 <= s <= 2.0 for s in samples) and min(samples) < 0.5 < 1.5 < max(samples)


def test_backoff_without_retry_after_uses_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("random.uniform", lambda low, high: high)
    handler = Recorder(error(500, "api_error"), error(502, "api_error"), error(429, "rate_limit"))
    sleeps: list[float] = []
    with pytest.raises(RateLimitError):
        sync_client(handler, sleeps=sleeps).account.me()
    assert sleeps == [0.25, 0.5, 1.0]


def test_connection_errors_are_retried_then_raised() -> None:
    handler = Recorder(httpx.ConnectError("connection refused"))
    sleeps: list[float] = []
    with pytest.raises(APIConnectionError) as info:
        sync_client(handler, sleeps=sleeps).sms.send("+15005550006", "x")
    assert len(handler.requests) == 4 and len(sleeps) == 3
    assert len(set(handler.keys)) == 1
    assert "http://gw.test could not be reached" in str(info.value)
    assert "connection refused" in str(info.value) and "4 attempts" in str(info.value)
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_connection_error_then_success() -> None:
    handler = Recorder(httpx.ConnectError("refused"), httpx.RemoteProtocolError("reset"), ok())
    assert sync_client(handler).sms.status("sms_1").sms_id == "sms_1"
    assert len(handler.requests) == 3


def test_timeouts_are_retried_then_raised_as_timeout_errors() -> None:
    handler = Recorder(httpx.ReadTimeout("timed out"))
    with pytest.raises(APITimeoutError, match="did not answer in time"):
        sync_client(handler, max_retries=1).sms.status("sms_1")
    assert len(handler.requests) == 2


def test_a_bad_url_scheme_is_not_retried() -> None:
    handler = Recorder(httpx.UnsupportedProtocol("no"))
    with pytest.raises(APIConnectionError):
        sync_client(handler).sms.status("sms_1")
    assert len(handler.requests) == 1


def test_unreadable_success_answers_are_api_errors() -> None:
    with pytest.raises(APIError, match="is not JSON") as info:
        sync_client(Recorder(httpx.Response(200, text="<html>"))).sms.status("sms_1")
    assert info.value.code == "invalid_response"
    broken = record(price_usd="not money")
    with pytest.raises(APIError, match="does not match SmsRecord: price_usd") as info:
        sync_client(Recorder(httpx.Response(200, json=broken))).sms.status("sms_1")
    assert info.value.code == "unexpected_response"
