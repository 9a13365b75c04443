"""The AsyncClient: the same calls, awaited, with the same retries and errors."""

from __future__ import annotations

import json

import httpx
import pytest

from smsgate.client import (
    APIConnectionError,
    AsyncClient,
    NotFoundError,
    RateLimitError,
    SmsRecord,
)
from tests.client.helpers import RECORD, Recorder, async_client, error, record

pytestmark = pytest.mark.anyio


async def test_send() -> None:
    handler = Recorder(httpx.Response(201, json=RECORD))
    async with async_client(handler) as client:
        sms = await client.sms.send(to="+15005550006", body="hi", from_="ACME")
    assert isinstance(sms, SmsRecord) and sms.sms_id == "sms_1"
    request = handler.requests[0]
    assert (request.method, request.url.path) == ("POST", "/v1/sms/send")
    assert json.loads(request.content) == {"to": "+15005550006", "body": "hi", "from": "ACME"}
    assert handler.keys[0]


async def test_retry_on_503_keeps_the_key_and_sleeps_asynchronously() -> None:
    handler = Recorder(
        error(503, "api_error"),
        httpx.ConnectError("refused"),
        httpx.Response(201, json=RECORD),
    )
    sleeps: list[float] = []
    client = async_client(handler, sleeps=sleeps)
    sms = await client.sms.send("+15005550006", "hi")
    assert sms.sms_id == "sms_1" and len(sleeps) == 2
    assert len(handler.keys) == 3 and len(set(handler.keys)) == 1 and handler.keys[0]


async def test_errors_and_giving_up() -> None:
    client = async_client(Recorder(error(404, "not_found", "sms_not_found")))
    with pytest.raises(NotFoundError) as info:
        await client.sms.status("sms_x")
    assert info.value.code == "sms_not_found"

    handler = Recorder(error(429, "rate_limit", headers={"Retry-After": "2"}))
    sleeps: list[float] = []
    with pytest.raises(RateLimitError) as limited:
        await async_client(handler, sleeps=sleeps, max_retries=2).account.me()
    assert limited.value.retry_after == 2.0 and sleeps == [2.0, 2.0]

    handler = Recorder(httpx.ConnectError("refused"))
    with pytest.raises(APIConnectionError):
        await async_client(handler).sms.status("sms_1")
    assert len(handler.requests) == 4


async def test_list_all_is_an_async_iterator_over_every_page() -> None:
    pages = {None: (["a", "b"], "c1"), "c1": (["c"], "c2"), "c2": (["d"], None)}

    def serve(request: httpx.Request) -> httpx.Response:
        ids, nxt = pages[request.url.params.get("cursor")]
        items = [record(sms_id=i) for i in ids]
        return httpx.Response(200, json={"items": items, "next_cursor": nxt})

    handler = Recorder(serve)
    client = async_client(handler)
    ids = [r.sms_id async for r in client.sms.list_all(to="+15005550006")]
    assert ids == ["a", "b", "c", "d"]
    assert [r.url.params.get("cursor") for r in handler.requests] == [None, "c1", "c2"]
    assert {r.url.params["to"] for r in handler.requests} == {"+15005550006"}
    page = await client.sms.list(limit=1)
    assert page.next_cursor == "c1"


async def test_other_namespaces() -> None:
    handler = Recorder(
        httpx.Response(200, json={"message_id": "sms_1", "cancelled": False, "state": "sent"})
    )
    client = async_client(handler)
    assert (await client.sms.cancel("sms_1")).state == "sent"
    handler.answers = [httpx.Response(200, json={"batch_id": "bat_1", "results": []})]
    batch = await client.sms.batch.send([{"to": "+15005550006", "body": "x"}])
    assert batch.batch_id == "bat_1"
    handler.answers = [httpx.Response(200, json={"items": [], "next_cursor": None})]
    assert [m async for m in client.sandbox.messages_all(to="+1")] == []
    assert (await client.sandbox.messages()).items == []


async def test_close_only_closes_its_own_http_client() -> None:
    given = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    async with AsyncClient("http://gw.test", "sg_live_x", http_client=given):
        pass
    assert not given.is_closed
    await given.aclose()
    own = AsyncClient("http://gw.test", "sg_live_x")
    await own.close()
    assert own._http.is_closed
