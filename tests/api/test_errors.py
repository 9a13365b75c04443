"""Bad input: every failure answers the contract's envelope, and a rejected send stores nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from smsgate.accounts.service import revoke_key
from smsgate.api import idempotency_repository as idem
from smsgate.api.scope import request_hash
from smsgate.app import create_app
from smsgate.db.models import ApiKey, IdempotencyKey, Message, OutboxEntry
from smsgate.db.types import utcnow
from smsgate.gateway import Gateway
from smsgate.messages.schemas import SmsSendRequest
from tests.conftest import Tenant, fast_settings, make_tenant, serving

pytestmark = pytest.mark.anyio


def assert_error(
    r: httpx.Response, status: int, type_: str, code: str, param: str | None = None
) -> None:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"type", "code", "message", "param", "request_id"}
    assert (err["type"], err["code"]) == (type_, code), err
    assert err["message"]
    assert err["request_id"].startswith("req_")
    assert r.headers["x-request-id"] == err["request_id"]
    if param is not None:
        assert err["param"] == param


async def count(gateway: Gateway, model: type) -> int:
    async with gateway.db.reader() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(
    ("body", "status", "type_", "code", "param"),
    [
        (
            {"to": "+15005550006", "body": "x" * 2000},
            422,
            "invalid_request",
            "body_too_long",
            "body",
        ),
        ({"to": "+1234", "body": "hi"}, 422, "invalid_request", "invalid_phone_number", "to"),
        ({"to": "hello", "body": "hi"}, 422, "invalid_request", "invalid_phone_number", "to"),
        ({"to": 15005550006, "body": "hi"}, 422, "invalid_request", "invalid_parameter", "to"),
        (
            {"to": "+15005550006", "body": ["hi"]},
            422,
            "invalid_request",
            "invalid_parameter",
            "body",
        ),
        ({"to": "+15005550006"}, 422, "invalid_request", "missing_parameter", "body"),
        ({"body": "hi"}, 422, "invalid_request", "missing_parameter", "to"),
        (
            {"to": "+15005550006", "body": "hi", "colour": 1},
            422,
            "invalid_request",
            "unknown_parameter",
            "colour",
        ),
        (
            {"to": "+15005550006", "body": "hi", "send_at": "tomorrow"},
            422,
            "invalid_request",
            "invalid_parameter",
            "send_at",
        ),
        (
            {"to": "+15005550006", "body": "hi", "send_at": "2030-01-01T00:00:00"},
            422,
            "invalid_request",
            "invalid_parameter",
            "send_at",
        ),
        (
            {"to": "+15005550006", "body": "hi", "vendor": "twilio"},
            422,
            "invalid_request",
            "unknown_vendor",
            "vendor",
        ),
        (
            {"to": "+15005550006", "body": "hi", "template_id": "tpl_x"},
            422,
            "invalid_request",
            "unknown_template",
            "template_id",
        ),
        (
            {"to": "+15005550006", "body": "hi", "callback_url": "ftp://x"},
            422,
            "invalid_request",
            "invalid_parameter",
            "callback_url",
        ),
        ([1, 2], 422, "invalid_request", "invalid_parameter", None),
    ],
)
async def test_rejected_send_stores_nothing(
    client: httpx.AsyncClient,
    tenant: Tenant,
    gateway: Gateway,
    body: object,
    status: int,
    type_: str,
    code: str,
    param: str | None,
) -> None:
    r = await client.post("/v1/sms/send", json=body, headers=tenant.headers)
    assert_error(r, status, type_, code, param)
    assert await count(gateway, Message) == 0
    assert await count(gateway, OutboxEntry) == 0


async def test_malformed_json(client: httpx.AsyncClient, tenant: Tenant, gateway: Gateway) -> None:
    r = await client.post(
        "/v1/sms/send",
        content=b'{"to": "+15005550006", "body": ',
        headers=tenant.headers | {"Content-Type": "application/json"},
    )
    assert_error(r, 400, "invalid_request", "malformed_json")
    r = await client.post("/v1/sms/send", headers=tenant.headers)
    assert_error(r, 400, "invalid_request", "malformed_json")
    assert await count(gateway, Message) == 0


async def test_huge_body_is_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    big = b'{"to": "+15005550006", "body": "' + b"x" * 2_000_000 + b'"}'
    r = await client.post(
        "/v1/sms/send", content=big, headers=tenant.headers | {"Content-Type": "application/json"}
    )
    assert_error(r, 413, "invalid_request", "request_too_large")


async def test_auth_failures(client: httpx.AsyncClient, tenant: Tenant, gateway: Gateway) -> None:
    body = {"to": "+15005550006", "body": "hi"}
    r = await client.post("/v1/sms/send", json=body)
    assert_error(r, 401, "authentication_error", "missing_api_key")
    r = await client.post("/v1/sms/send", json=body, headers={"Authorization": "Basic abc"})
    assert_error(r, 401, "authentication_error", "missing_api_key")
    r = await client.post("/v1/sms/send", json=body, headers={"Authorization": "Bearer sg_live_x"})
    assert_error(r, 401, "authentication_error", "invalid_api_key")
    async with gateway.db.session() as s:
        key_id = await s.scalar(select(ApiKey.id).where(ApiKey.project_id == tenant.project_id))
        assert key_id
        await revoke_key(s, key_id)
    r = await client.post("/v1/sms/send", json=body, headers=tenant.headers)
    assert_error(r, 401, "authentication_error", "revoked_api_key")
    assert await count(gateway, Message) == 0


async def test_a_key_revoked_elsewhere_stops_within_the_cache_time(
    db_url: str, tmp_path: Path
) -> None:
    """Keys are cached per process for ``auth_cache_seconds``; revocation by another
    process (the CLI) takes effect once that has passed, not later."""
    gw = Gateway.build(fast_settings(db_url, tmp_path / "d", auth_cache_seconds=1.0))
    async with serving(gw, background=False) as (c, tenant):
        r = await c.get("/v1/sms/list", headers=tenant.headers)
        assert r.status_code == 200
        async with gw.db.session() as s:
            key_id = await s.scalar(select(ApiKey.id).where(ApiKey.project_id == tenant.project_id))
            assert key_id
            await revoke_key(s, key_id)
        r = await c.get("/v1/sms/list", headers=tenant.headers)
        assert r.status_code == 200  # served from the cache: the documented window
        await asyncio.sleep(1.05)
        r = await c.get("/v1/sms/list", headers=tenant.headers)
        assert_error(r, 401, "authentication_error", "revoked_api_key")


async def test_missing_permission(client: httpx.AsyncClient, gateway: Gateway) -> None:
    reader = await make_tenant(gateway.db, permissions=("sms:read",))
    r = await client.post(
        "/v1/sms/send", json={"to": "+15005550006", "body": "hi"}, headers=reader.headers
    )
    assert_error(r, 403, "permission_denied", "missing_permission")
    sender = await make_tenant(gateway.db, permissions=("sms:send",))
    r = await client.get("/v1/sms/list", headers=sender.headers)
    assert_error(r, 403, "permission_denied", "missing_permission")


async def test_unknown_ids_and_routes(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.get("/v1/sms/status/sms_does_not_exist", headers=tenant.headers)
    assert_error(r, 404, "not_found", "not_found")
    r = await client.get("/v1/sms/events/sms_does_not_exist", headers=tenant.headers)
    assert_error(r, 404, "not_found", "not_found")
    r = await client.get("/v1/nothing/here", headers=tenant.headers)
    assert_error(r, 404, "not_found", "not_found")
    r = await client.delete("/v1/sms/send", headers=tenant.headers)
    assert_error(r, 405, "invalid_request", "method_not_allowed")


async def test_idempotent_replay(
    client: httpx.AsyncClient, tenant: Tenant, gateway: Gateway
) -> None:
    body = {"to": "+15005550006", "body": "once", "idempotency_key": "k-1"}
    first = await client.post("/v1/sms/send", json=body, headers=tenant.headers)
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    again = await client.post("/v1/sms/send", json=body, headers=tenant.headers)
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    # The header form is the same key.
    hdr = await client.post(
        "/v1/sms/send",
        json={"to": "+15005550006", "body": "once"},
        headers=tenant.headers | {"Idempotency-Key": "k-1"},
    )
    assert hdr.json()["sms_id"] == first.json()["sms_id"]
    assert await count(gateway, Message) == 1
    changed = await client.post(
        "/v1/sms/send", json=body | {"body": "twice"}, headers=tenant.headers
    )
    assert_error(changed, 422, "invalid_request", "idempotency_key_reused", "idempotency_key")
    differ = await client.post(
        "/v1/sms/send", json=body, headers=tenant.headers | {"Idempotency-Key": "k-2"}
    )
    assert_error(differ, 422, "invalid_request", "idempotency_key_mismatch")
    assert await count(gateway, Message) == 1


async def test_idempotency_keys_are_per_project(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    body = {"to": "+15005550006", "body": "once", "idempotency_key": "shared"}
    a = await client.post("/v1/sms/send", json=body, headers=tenant.headers)
    b = await client.post("/v1/sms/send", json=body, headers=other_tenant.headers)
    assert a.json()["sms_id"] != b.json()["sms_id"]
    assert "idempotent-replayed" not in b.headers


async def test_idempotency_in_flight_and_failed_first_attempt(
    client: httpx.AsyncClient, tenant: Tenant, gateway: Gateway
) -> None:
    body = {"to": "+15005550006", "body": "hi", "idempotency_key": "busy"}
    now = utcnow()
    reservation = {
        "project_id": tenant.project_id,
        "key": "busy",
        "request_hash": request_hash("POST", "/v1/sms/send", SmsSendRequest.model_validate(body)),
        "state": "in_progress",
        "response_status": None,
        "response_body": None,
        "locked_until": now + timedelta(seconds=60),
        "created_at": now,
        "expires_at": now + timedelta(hours=24),
    }
    async with gateway.db.session() as s:
        assert await idem.reserve(s, reservation)
    r = await client.post("/v1/sms/send", json=body, headers=tenant.headers)
    assert_error(r, 409, "conflict", "idempotency_request_in_progress")
    assert await count(gateway, Message) == 0
    # The first request's process died: once its lock runs out, a retry takes the key over.
    async with gateway.db.session() as s:
        await idem.take_over(s, tenant.project_id, "busy", {"locked_until": now})
    r = await client.post("/v1/sms/send", json=body, headers=tenant.headers)
    assert r.status_code == 200, r.text
    replay = await client.post("/v1/sms/send", json=body, headers=tenant.headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["sms_id"] == r.json()["sms_id"]

    # A first attempt that failed validation releases its key: the corrected retry goes through.
    bad = {"to": "+1234", "body": "hi", "idempotency_key": "fix-me"}
    r = await client.post("/v1/sms/send", json=bad, headers=tenant.headers)
    assert_error(r, 422, "invalid_request", "invalid_phone_number")
    async with gateway.db.reader() as s:
        assert await s.get(IdempotencyKey, (tenant.project_id, "fix-me")) is None
    r = await client.post("/v1/sms/send", json=bad | {"to": "+15005550006"}, headers=tenant.headers)
    assert r.status_code == 200


async def test_concurrent_same_key_creates_one_message(
    client: httpx.AsyncClient, tenant: Tenant, gateway: Gateway
) -> None:
    body = {"to": "+15005550006", "body": "race", "idempotency_key": "race-1"}
    answers = await asyncio.gather(
        *(client.post("/v1/sms/send", json=body, headers=tenant.headers) for _ in range(10))
    )
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {200, 409}
    ids = {a.json()["sms_id"] for a in answers if a.status_code == 200}
    assert len(ids) == 1
    assert await count(gateway, Message) == 1


async def test_batch_idempotency(
    client: httpx.AsyncClient, tenant: Tenant, gateway: Gateway
) -> None:
    body = {
        "messages": [{"to": "+15005550006", "body": "a"}, {"to": "bad", "body": "b"}],
        "idempotency_key": "batch-1",
    }
    first = await client.post("/v1/sms/batch/send", json=body, headers=tenant.headers)
    again = await client.post("/v1/sms/batch/send", json=body, headers=tenant.headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await count(gateway, Message) == 1
    item = body | {
        "messages": [{"to": "+15005550006", "body": "a", "idempotency_key": "x"}],
        "idempotency_key": "batch-2",
    }
    r = await client.post("/v1/sms/batch/send", json=item, headers=tenant.headers)
    assert r.json()["results"][0]["error"]["param"] == "messages.0.idempotency_key"


async def test_a_request_whose_key_was_taken_over_cannot_complete(gateway: Gateway) -> None:
    tenant = await make_tenant(gateway.db)
    now = utcnow()
    mine, theirs = now + timedelta(seconds=1), now + timedelta(seconds=2)
    async with gateway.db.session() as s:
        await idem.reserve(
            s,
            {
                "project_id": tenant.project_id,
                "key": "k",
                "request_hash": "h" * 64,
                "state": "in_progress",
                "response_status": None,
                "response_body": None,
                "locked_until": mine,
                "created_at": now,
                "expires_at": now + timedelta(hours=1),
            },
        )
        await idem.take_over(s, tenant.project_id, "k", {"locked_until": theirs})
    async with gateway.db.session() as s:
        assert not await idem.complete(s, tenant.project_id, "k", mine, 200, {})
        assert await idem.complete(s, tenant.project_id, "k", theirs, 200, {"ok": 1})


async def test_database_down_is_a_503(tmp_path: Path) -> None:
    gw = Gateway.build(fast_settings("postgresql+asyncpg://postgres@127.0.0.1:1/none", tmp_path))
    app = create_app(gateway=gw, background=False)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                r = await c.get("/readyz")
                assert_error(r, 503, "api_error", "unavailable")
                r = await c.post(
                    "/v1/sms/send",
                    json={"to": "+15005550006", "body": "x"},
                    headers={"Authorization": "Bearer sg_live_whatever"},
                )
                assert_error(r, 503, "api_error", "unavailable")
                assert (await c.get("/healthz")).status_code == 200
    finally:
        await gw.aclose()


async def test_huge_chunked_body_is_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"to": "+15005550006", "body": "'
        for _ in range(40):
            yield b"x" * 65_536
        yield b'"}'

    r = await client.post(
        "/v1/sms/send",
        content=chunks(),
        headers=tenant.headers | {"Content-Type": "application/json"},
    )
    assert_error(r, 413, "invalid_request", "request_too_large")


async def test_hooks_for_unknown_vendors_are_404(client: httpx.AsyncClient) -> None:
    for path in ("/hooks/nope/status", "/hooks/simulator/status"):
        r = await client.post(path, content=b"MessageSid=SM1&MessageStatus=delivered")
        assert_error(r, 404, "not_found", "not_found")


async def test_nul_characters_are_refused_alike_on_both_databases(
    client: httpx.AsyncClient, tenant: Tenant, gateway: Gateway
) -> None:
    """PostgreSQL cannot store U+0000: it was a 500 there and fine on SQLite. Now every
    way in answers 422 naming where it is, and nothing is stored."""
    h = tenant.headers
    cases = [
        ("/v1/sms/send", {"to": "+447911123456", "body": "a\x00b"}, "body"),
        ("/v1/sms/send", {"to": "+447911123456", "body": "x", "from": "A\x00"}, "from"),
        ("/v1/sms/otp", {"to": "+447911123456", "service_name": "a\x00"}, "service_name"),
        (
            "/v1/sms/send",
            {"to": "+447911123456", "body": "x", "variables": {"k\x00": "v"}},
            "variables",
        ),
        ("/v1/sms/batch/send", {"messages": [{"to": "x"}], "idempotency_key": "\x00"}, None),
    ]
    for path, body, where in cases:
        r = await client.post(path, json=body, headers=h)
        assert_error(r, 422, "invalid_request", "invalid_parameter")
        assert r.json()["error"]["param"] == (where or "idempotency_key"), r.json()
    r = await client.post(
        "/v1/sms/send",
        json={"to": "+447911123456", "body": "x"},
        headers={**h, "Idempotency-Key": "k\x00"},
    )
    assert_error(r, 422, "invalid_request", "invalid_parameter")
    cursor = "AA"  # base64 of a single NUL
    for path in (
        "/v1/sms/status/sms_%00",
        "/v1/sms/list?after=%00",
        "/v1/sms/list?to=%00",
        f"/v1/sms/list?cursor={cursor}",
        f"/v1/sms/inbound/list?cursor={cursor}",
    ):
        r = await client.get(path, headers=h)
        assert r.status_code == 422, (path, r.text)
    assert await count(gateway, Message) == 0


async def test_a_nul_in_one_batch_item_fails_only_that_item(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    items = [{"to": "+447911123456", "body": "fine"}, {"to": "+447911123456", "body": "\x00"}]
    r = await client.post("/v1/sms/batch/send", json={"messages": items}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    ok, bad = r.json()["results"]
    assert ok["ok"] and not bad["ok"]
    assert bad["error"]["code"] == "invalid_parameter" and "NUL" in bad["error"]["message"]
