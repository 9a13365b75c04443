"""The SDK: unit tests of its own logic on httpx.MockTransport, then against the real app."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from smsgate import AsyncClient, Client
from smsgate.client import (
    APIConnectionError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SmsgateConfigError,
)
from smsgate.client.credentials import credentials_path, read_credentials, write_credentials
from tests.conftest import Tenant

RECORD = {
    "sms_id": "sms_1",
    "to": "+15005550006",
    "from": None,
    "body": "hi",
    "state": "queued",
    "vendor": None,
    "vendor_message_id": None,
    "segments": 1,
    "encoding": "GSM-7",
    "price_usd": "0.007900",
    "error_code": None,
    "error_message": None,
    "batch_id": None,
    "template_id": None,
    "send_at": None,
    "created_at": "2026-11-25T10:00:00.000Z",
    "updated_at": "2026-11-25T10:00:00.000Z",
    "a_future_field": 1,
}


def error(
    status: int, type_: str, code: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {
        "error": {
            "type": type_,
            "code": code,
            "message": "no",
            "param": "to",
            "request_id": "req_1",
        }
    }
    return httpx.Response(status, json=body, headers=headers)


def client_with(handler: Callable[[httpx.Request], httpx.Response], **kw: object) -> Client:
    c = Client(
        "http://gw.test",
        "sg_live_secretsecret",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        **kw,
    )  # type: ignore[arg-type]
    c._sleep = lambda _s: None
    return c


def test_config_resolution_order(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SmsgateConfigError):
        Client()
    path = write_credentials("http://from-file:1", "sg_live_file")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path == credentials_path()
    assert read_credentials() is not None
    assert "sg_live_file" not in repr(read_credentials())
    assert Client()._core.base_url == "http://from-file:1"
    monkeypatch.setenv("SMSGATE_URL", "http://from-env:2")
    monkeypatch.setenv("SMSGATE_API_KEY", "sg_live_env")
    c = Client()
    assert c._core.base_url == "http://from-env:2" and c._core.headers["Authorization"].endswith(
        "sg_live_env"
    )
    c = Client("http://arg:3", "sg_live_arg")
    assert c._core.base_url == "http://arg:3" and "sg_live_arg" not in repr(c)


@pytest.mark.parametrize(
    ("status", "type_", "cls"),
    [
        (400, "invalid_request", InvalidRequestError),
        (401, "authentication_error", AuthenticationError),
        (403, "permission_denied", PermissionDeniedError),
        (404, "not_found", NotFoundError),
        (409, "conflict", ConflictError),
        (422, "invalid_request", InvalidRequestError),
    ],
)
def test_errors_map_to_classes_and_are_not_retried(
    status: int, type_: str, cls: type[Exception]
) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return error(status, type_, "some_code")

    with pytest.raises(cls) as info:
        client_with(handler).sms.status("sms_1")
    assert len(calls) == 1
    assert info.value.code == "some_code" and info.value.request_id == "req_1"  # type: ignore[attr-defined]


def test_retries_keep_one_idempotency_key() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("idempotency-key"))
        if len(seen) < 3:
            return error(503, "api_error", "unavailable")
        assert json.loads(request.content) == {"to": "+15005550006", "body": "hi"}
        return httpx.Response(200, json=RECORD)

    record = client_with(handler).sms.send(to="+15005550006", body="hi")
    assert record.sms_id == "sms_1" and str(record.price_usd) == "0.007900"
    assert len(seen) == 3 and seen[0] and len(set(seen)) == 1


def test_rate_limit_retry_after_then_gives_up() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return error(429, "rate_limit", "rate_limited", {"Retry-After": "7"})

    c = client_with(handler, max_retries=2)
    waits: list[float] = []
    c._sleep = waits.append
    with pytest.raises(RateLimitError) as info:
        c.sms.send(to="+15005550006", body="x", idempotency_key="mine")
    assert info.value.retry_after == 7.0 and waits == [7.0, 7.0]


def test_connection_errors_are_retried_then_raised() -> None:
    attempts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        raise httpx.ConnectError("refused")

    with pytest.raises(APIConnectionError):
        client_with(handler).sms.status("sms_1")
    assert attempts == 4


def test_list_all_follows_cursors() -> None:
    pages = {None: ("c1", ["a", "b"]), "c1": ("c2", ["c"]), "c2": (None, ["d"])}

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        nxt, ids = pages[cursor]
        assert request.url.params["state"] == "delivered"
        return httpx.Response(
            200, json={"items": [RECORD | {"sms_id": i} for i in ids], "next_cursor": nxt}
        )

    ids = [r.sms_id for r in client_with(handler).sms.list_all(state="delivered")]
    assert ids == ["a", "b", "c", "d"]


@pytest.mark.anyio
async def test_async_client_against_the_real_app(client: httpx.AsyncClient, tenant: Tenant) -> None:
    transport = client._transport  # the ASGI transport of the app under test
    http = httpx.AsyncClient(transport=transport, base_url="http://smsgate.test")
    async with AsyncClient("http://smsgate.test", tenant.key, http_client=http) as sdk:
        sent = await sdk.sms.send("+15005550006", "from the async SDK")
        assert sent.state == "queued"
        assert (await sdk.sms.status(sent.sms_id)).sms_id == sent.sms_id
        assert [r.sms_id async for r in sdk.sms.list_all(limit=1)] == [sent.sms_id]
        with pytest.raises(InvalidRequestError) as info:
            await sdk.sms.send("+1234", "x")
        assert info.value.code == "invalid_phone_number" and info.value.param == "to"
        otp = await sdk.sms.otp("+15005550006", service_name="Acme")
        assert (await sdk.sms.otp.status(otp.request_id)).state == "pending"
        wrong = await sdk.sms.verify("+15005550006", "0000000")  # 7 digits: never the code
        assert (wrong.valid, wrong.state, wrong.attempts_remaining) == (False, "pending", 4)
        me = await sdk.account.me()
        assert me.project_id == tenant.project_id


def test_config_error_without_key(tmp_path: Path) -> None:
    with pytest.raises(SmsgateConfigError, match="No API key"):
        Client(base_url="http://x")
