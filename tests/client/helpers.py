"""Canned answers and clients on ``httpx.MockTransport`` for the SDK unit tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from smsgate.client import AsyncClient, Client

URL = "http://gw.test"
KEY = "sg_live_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"

RECORD: dict[str, Any] = {
    "sms_id": "sms_1",
    "to": "+15005550006",
    "from": None,
    "body": "hi",
    "state": "queued",
    "vendor": None,
    "vendor_message_id": None,
    "segments": 1,
    "encoding": "GSM-7",
    "price_usd": "0.007500",
    "error_code": None,
    "error_message": None,
    "batch_id": None,
    "template_id": None,
    "send_at": None,
    "created_at": "2026-11-25T10:00:00Z",
    "updated_at": "2026-11-25T10:00:01Z",
    "a_field_from_the_future": {"x": 1},
}

EVENT: dict[str, Any] = {
    "event_id": "evt_1",
    "sms_id": "sms_1",
    "type": "state_change",
    "state": "queued",
    "vendor": None,
    "error_code": None,
    "error_message": None,
    "occurred_at": "2026-11-25T10:00:00Z",
}


def record(**changes: Any) -> dict[str, Any]:
    return RECORD | changes


def error(
    status: int,
    type_: str,
    code: str = "some_code",
    *,
    headers: dict[str, str] | None = None,
    message: str = "Something is wrong.",
    param: str | None = "to",
) -> httpx.Response:
    envelope = {
        "error": {
            "type": type_,
            "code": code,
            "message": message,
            "param": param,
            "request_id": "req_1",
        }
    }
    return httpx.Response(status, json=envelope, headers=headers)


Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that answers from a list (the last answer repeats)."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    @property
    def keys(self) -> list[str | None]:
        return [r.headers.get("idempotency-key") for r in self.requests]


def sync_client(handler: Handler, *, sleeps: list[float] | None = None, **kwargs: Any) -> Client:
    client = Client(
        URL, KEY, http_client=httpx.Client(transport=httpx.MockTransport(handler)), **kwargs
    )
    waits = sleeps if sleeps is not None else []
    client._sleep = waits.append
    return client


def async_client(
    handler: Handler, *, sleeps: list[float] | None = None, **kwargs: Any
) -> AsyncClient:
    client = AsyncClient(
        URL, KEY, http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)), **kwargs
    )
    waits = sleeps if sleeps is not None else []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client._sleep = sleep
    return client
