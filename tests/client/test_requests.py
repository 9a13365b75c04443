"""What each method sends, and how answers become models."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from smsgate.client import SmsRecord
from tests.client.helpers import EVENT, KEY, RECORD, Recorder, record, sync_client


def answer(body: Any, status: int = 200) -> Recorder:
    return Recorder(httpx.Response(status, json=body))


def sent(handler: Recorder, n: int = -1) -> tuple[str, str, dict[str, str], Any]:
    r = handler.requests[n]
    content = json.loads(r.content) if r.content else None
    return r.method, r.url.path, dict(r.url.params), content


def test_send_body_headers_and_record() -> None:
    handler = answer(record(**{"from": "ACME", "send_at": "2026-11-26T09:30:00Z"}), 201)
    when = datetime(2026, 11, 26, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    sms = sync_client(handler).sms.send(
        to="+15005550006",
        body="Hello",
        from_="ACME",
        vendor="simulator",
        send_at=when,
        callback_url="https://example.com/hook",
        template_id=None,
        variables={"name": "Ada"},
    )
    assert sent(handler) == (
        "POST",
        "/v1/sms/send",
        {},
        {
            "to": "+15005550006",
            "body": "Hello",
            "from": "ACME",
            "vendor": "simulator",
            "send_at": "2026-11-26T09:30:00Z",
            "callback_url": "https://example.com/hook",
            "variables": {"name": "Ada"},
        },
    )
    request = handler.requests[0]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("smsgate-python/")
    assert str(request.url).startswith("http://gw.test/v1/")
    assert isinstance(sms, SmsRecord) and sms.from_ == "ACME"
    assert sms.price_usd == Decimal("0.007500") and str(sms.price_usd) == "0.007500"
    assert sms.created_at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert sms.send_at == datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    assert sms.send_at is not None and sms.send_at.utcoffset() == timedelta(0)
    assert not sms.is_final and sms.vendor is None and sms.batch_id is None
    assert json.loads(sms.model_dump_json(by_alias=True))["from"] == "ACME"


def test_naive_datetimes_are_refused() -> None:
    handler = answer(RECORD)
    with pytest.raises(ValueError, match="timezone-aware"):
        sync_client(handler).sms.send("+15005550006", "x", send_at=datetime(2026, 1, 1))
    assert handler.requests == []


def test_status_escapes_the_id() -> None:
    handler = answer(RECORD)
    sync_client(handler).sms.status("sms_1")
    sync_client(handler).sms.status("../account/me")
    assert handler.requests[0].url.path == "/v1/sms/status/sms_1"
    assert handler.requests[1].url.raw_path == b"/v1/sms/status/..%2Faccount%2Fme"
    with pytest.raises(ValueError):
        sync_client(handler).sms.status("")


def test_list_query_and_page() -> None:
    handler = answer({"items": [RECORD, record(sms_id="sms_0")], "next_cursor": "c1"})
    page = sync_client(handler).sms.list(
        state="delivered",
        since=datetime(2026, 11, 1, tzinfo=UTC),
        until="2026-11-30T00:00:00Z",
        limit=2,
    )
    assert sent(handler) == (
        "GET",
        "/v1/sms/list",
        {
            "state": "delivered",
            "since": "2026-11-01T00:00:00Z",
            "until": "2026-11-30T00:00:00Z",
            "limit": "2",
        },
        None,
    )
    assert [r.sms_id for r in page.items] == ["sms_1", "sms_0"] and page.next_cursor == "c1"


def test_list_all_follows_next_cursor_across_three_pages() -> None:
    pages = {
        None: (["a", "b"], "c1"),
        "c1": (["c", "d"], "c2"),
        "c2": (["e"], None),
    }

    def serve(request: httpx.Request) -> httpx.Response:
        ids, nxt = pages[request.url.params.get("cursor")]
        assert request.url.params["state"] == "failed"
        assert request.url.params["limit"] == "2"
        items = [record(sms_id=i) for i in ids]
        return httpx.Response(200, json={"items": items, "next_cursor": nxt})

    handler = Recorder(serve)
    iterator = sync_client(handler).sms.list_all(state="failed", limit=2)
    assert handler.requests == []  # lazy: nothing fetched before iterating
    assert [r.sms_id for r in iterator] == ["a", "b", "c", "d", "e"]
    assert [r.url.params.get("cursor") for r in handler.requests] == [None, "c1", "c2"]


def test_list_all_can_start_from_a_cursor_and_stops_early() -> None:
    handler = answer({"items": [RECORD, RECORD], "next_cursor": "more"})
    iterator = sync_client(handler).sms.list_all(cursor="start")
    assert next(iterator).sms_id == "sms_1"
    assert [r.url.params["cursor"] for r in handler.requests] == ["start"]


def test_events_and_events_all() -> None:
    first = {"items": [EVENT], "next_cursor": "e1"}
    last = {"items": [EVENT | {"event_id": "evt_2"}], "next_cursor": None}
    handler = answer(first)
    page = sync_client(handler).sms.events("sms_1", limit=1)
    assert sent(handler) == ("GET", "/v1/sms/events/sms_1", {"limit": "1"}, None)
    assert page.items[0].occurred_at == datetime(2026, 11, 25, 10, tzinfo=UTC)

    handler = Recorder(httpx.Response(200, json=first), httpx.Response(200, json=last))
    ids = [e.event_id for e in sync_client(handler).sms.events_all("sms_1", limit=1)]
    assert ids == ["evt_1", "evt_2"]
    assert sent(handler) == ("GET", "/v1/sms/events/sms_1", {"limit": "1", "cursor": "e1"}, None)


def test_batch_send() -> None:
    result = {
        "batch_id": "bat_1",
        "results": [
            {"ok": True, "sms": record(batch_id="bat_1"), "error": None},
            {
                "ok": False,
                "sms": None,
                "error": {
                    "type": "invalid_request",
                    "code": "invalid_phone_number",
                    "message": "bad",
                    "param": "to",
                },
            },
        ],
    }
    handler = answer(result)
    batch = sync_client(handler).sms.batch.send(
        messages=[
            {"to": "+15005550006", "body": "one", "from_": "ACME", "vendor": None},
            {"to": "+1234", "body": "two", "send_at": datetime(2026, 12, 1, tzinfo=UTC)},
        ],
        idempotency_key="batch-7",
    )
    assert sent(handler) == (
        "POST",
        "/v1/sms/batch/send",
        {},
        {
            "messages": [
                {"to": "+15005550006", "body": "one", "from": "ACME"},
                {"to": "+1234", "body": "two", "send_at": "2026-12-01T00:00:00Z"},
            ]
        },
    )
    assert handler.keys == ["batch-7"]
    assert batch.batch_id == "bat_1"
    good, bad = batch.results
    assert good.ok and good.sms is not None and good.sms.batch_id == "bat_1"
    assert not bad.ok and bad.error is not None and bad.error.code == "invalid_phone_number"
    assert bad.error.request_id is None
    with pytest.raises(TypeError):
        sync_client(handler).sms.batch.send(["+15005550006"])  # type: ignore[list-item]


def test_cancel_and_resend() -> None:
    handler = answer({"message_id": "sms_1", "cancelled": True, "state": "canceled"})
    client = sync_client(handler)
    cancelled = client.sms.cancel("sms_1")
    assert sent(handler) == ("POST", "/v1/sms/cancel/sms_1", {}, None)
    assert handler.keys[0] and cancelled.cancelled and cancelled.state == "canceled"

    handler = answer({"results": [{"ok": True, "sms": RECORD, "error": None}]})
    resent = sync_client(handler).sms.resend("bat_1", only_failed=True)
    assert sent(handler) == ("POST", "/v1/sms/resend/bat_1", {}, {"only_failed": True})
    assert handler.keys[0] and resent.results[0].sms is not None
    sync_client(handler).sms.resend("sms_1", idempotency_key="again-1")
    assert sent(handler)[3] == {"only_failed": False} and handler.keys[-1] == "again-1"


def test_sandbox_messages_and_account() -> None:
    inbox = {
        "items": [
            {
                "id": "sbx_1",
                "sms_id": "sms_1",
                "to": "+15005550006",
                "from": None,
                "body": "Your code is 123456",
                "received_at": "2026-11-25T10:00:02Z",
            }
        ],
        "next_cursor": None,
    }
    handler = answer(inbox)
    client = sync_client(handler)
    page = client.sandbox.messages(to="+15005550006", limit=5)
    assert sent(handler) == (
        "GET",
        "/v1/sandbox/messages",
        {"to": "+15005550006", "limit": "5"},
        None,
    )
    assert page.items[0].body == "Your code is 123456" and page.items[0].from_ is None
    assert [m.id for m in client.sandbox.messages_all()] == ["sbx_1"]

    handler = answer(
        {"project_id": "prj_1", "project_name": "Acme", "key_id": "key_1", "permissions": ["a"]}
    )
    me = sync_client(handler).account.me()
    assert sent(handler) == ("GET", "/v1/account/me", {}, None)
    assert (me.project_name, me.permissions) == ("Acme", ["a"])


def test_otp_calls() -> None:
    otp = {
        "request_id": "otp_1",
        "to": "+15005550006",
        "state": "pending",
        "expires_at": "2026-11-25T10:10:00Z",
        "sms_id": "sms_1",
        "service_name": "Acme",
        "attempts_remaining": 5,
        "send_count": 1,
        "created_at": "2026-11-25T10:00:00Z",
        "verified_at": None,
        "canceled_at": None,
    }
    handler = answer(otp)
    client = sync_client(handler)
    assert client.sms.otp("+15005550006", service_name="Acme").request_id == "otp_1"
    assert sent(handler) == (
        "POST",
        "/v1/sms/otp",
        {},
        {"to": "+15005550006", "service_name": "Acme"},
    )
    client.sms.otp.status("otp_1")
    assert sent(handler)[:2] == ("GET", "/v1/sms/otp/otp_1")
    client.sms.otp.cancel("otp_1")
    assert sent(handler)[:2] == ("POST", "/v1/sms/otp/otp_1/cancel")

    handler = answer({"valid": False, "state": "pending", "attempts_remaining": 4})
    result = sync_client(handler).sms.verify("+15005550006", "000000")
    assert sent(handler)[1:] == ("/v1/sms/verify", {}, {"to": "+15005550006", "code": "000000"})
    assert handler.keys[0] and (result.valid, result.attempts_remaining) == (False, 4)


def test_models_ignore_unknown_fields_and_accept_nulls() -> None:
    sms = SmsRecord.model_validate(RECORD | {"state": "a_new_state", "encoding": "UCS-2"})
    assert sms.state == "a_new_state" and not hasattr(sms, "a_field_from_the_future")
    assert SmsRecord.model_validate(record(state="delivered")).is_final


def test_closing() -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    with sync_client(Recorder(httpx.Response(200))) as client:
        client._http = http
        client._owns_http = False
    assert not http.is_closed  # a given http client belongs to the caller
    with sync_client(Recorder(httpx.Response(200))) as client:
        client._owns_http = True
    assert client._http.is_closed
    http.close()


def test_methods_keep_the_signatures_and_docs_of_the_calls() -> None:
    client = sync_client(Recorder(httpx.Response(200)))
    send = inspect.signature(client.sms.send)
    assert list(send.parameters)[:3] == ["to", "body", "from_"]
    assert send.return_annotation == "SmsRecord"
    assert inspect.signature(client.sms.list_all).return_annotation == "Iterator[SmsRecord]"
    assert "to" in inspect.signature(client.sms.otp).parameters
    assert client.sms.send.__doc__ and "Send one SMS" in client.sms.send.__doc__
    assert client.sms.send is client.sms.send  # bound once per namespace
    with pytest.raises(TypeError):
        client.sms.send(to="+15005550006", bogus=1)  # type: ignore[call-arg]
