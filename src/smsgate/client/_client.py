"""``Client`` (blocking) and ``AsyncClient``: the same calls, two ways of sending them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import httpx

from smsgate.client import _calls as calls
from smsgate.client._core import Call, Core
from smsgate.client.errors import APIConnectionError
from smsgate.client.models import (
    Account,
    BatchResult,
    CancelResult,
    OtpRequest,
    Page,
    ResendResult,
    SandboxMessage,
    SmsEvent,
    SmsRecord,
    VerifyResult,
)

T = TypeVar("T")


class Client:
    """Blocking client. ``Client()`` finds the server and key by itself (see ``_core.resolve``)."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._core = Core(base_url, api_key, max_retries)
        self._http = http_client or httpx.Client(timeout=timeout)
        self._sleep: Callable[[float], None] = time.sleep
        self.sms = _Sms(self)
        self.sandbox = _Sandbox(self)
        self.account = _Account(self)

    def __repr__(self) -> str:
        return f"Client(base_url={self._core.base_url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, call: Call[T]) -> T:
        key = self._core.key_for(call)
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                response = self._http.send(self._core.request(call, key))
            except httpx.TransportError as exc:
                delay = self._core.retry.delay(attempt, None)
                if delay is None:
                    raise APIConnectionError(
                        f"could not reach {self._core.base_url}: {exc}"
                    ) from exc
            else:
                if response.is_success:
                    return call.parse(response.json())
                delay = self._core.retry.delay(attempt, response)
                if delay is None:
                    raise self._core.error(response)
            self._sleep(delay)
            attempt += 1

    def _pages(self, make: Callable[[str | None], Call[Page[T]]]) -> Iterator[T]:
        cursor: str | None = None
        while True:
            page = self._call(make(cursor))
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor


class _Sms:
    def __init__(self, client: Client) -> None:
        self._c = client
        self.batch = _Batch(client)
        self.otp = _Otp(client)

    def send(
        self,
        to: str,
        body: str | None = None,
        *,
        from_: str | None = None,
        vendor: str | None = None,
        send_at: datetime | None = None,
        callback_url: str | None = None,
        template_id: str | None = None,
        variables: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> SmsRecord:
        return self._c._call(
            calls.sms_send(
                to=to,
                body_=body,
                from_=from_,
                vendor=vendor,
                send_at=send_at,
                callback_url=callback_url,
                template_id=template_id,
                variables=variables,
                idempotency_key=idempotency_key,
            )
        )

    def status(self, sms_id: str) -> SmsRecord:
        return self._c._call(calls.sms_status(sms_id))

    def list(self, **filters: Any) -> Page[SmsRecord]:
        """One page; filters: state, to, since, until, limit, cursor."""
        return self._c._call(calls.sms_list(**filters))

    def list_all(self, **filters: Any) -> Iterator[SmsRecord]:
        """Every matching message, newest first, fetching pages as needed."""
        return self._c._pages(lambda cursor: calls.sms_list(**filters, cursor=cursor))

    def events(self, sms_id: str, **params: Any) -> Page[SmsEvent]:
        return self._c._call(calls.sms_events(sms_id, **params))

    def cancel(self, sms_id: str) -> CancelResult:
        return self._c._call(calls.sms_cancel(sms_id))

    def resend(
        self, target_id: str, *, only_failed: bool = False, idempotency_key: str | None = None
    ) -> ResendResult:
        return self._c._call(calls.sms_resend(target_id, only_failed, idempotency_key))

    def verify(self, to: str, code: str, *, request_id: str | None = None) -> VerifyResult:
        return self._c._call(calls.sms_verify(to=to, code=code, request_id=request_id))


class _Batch:
    def __init__(self, client: Client) -> None:
        self._c = client

    def send(
        self, messages: list[dict[str, Any]], *, idempotency_key: str | None = None
    ) -> BatchResult:
        return self._c._call(calls.sms_batch_send(messages, idempotency_key))


class _Otp:
    """``client.sms.otp(to=...)`` sends a passcode; ``.status(id)`` and ``.cancel(id)``."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def __call__(self, to: str, **options: Any) -> OtpRequest:
        """Options: service_name, ttl_seconds, code_length, locale, idempotency_key."""
        return self._c._call(calls.sms_otp(to=to, **options))

    def status(self, request_id: str) -> OtpRequest:
        return self._c._call(calls.otp_status(request_id))

    def cancel(self, request_id: str) -> OtpRequest:
        return self._c._call(calls.otp_cancel(request_id))


class _Sandbox:
    def __init__(self, client: Client) -> None:
        self._c = client

    def messages(self, to: str | None = None, **params: Any) -> Page[SandboxMessage]:
        return self._c._call(calls.sandbox_messages(to=to, **params))


class _Account:
    def __init__(self, client: Client) -> None:
        self._c = client

    def me(self) -> Account:
        return self._c._call(calls.account_me())


class AsyncClient:
    """The asyncio twin of ``Client``: the same namespaces, every call awaited."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._core = Core(base_url, api_key, max_retries)
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._sleep: Callable[[float], Any] = asyncio.sleep
        self.sms = _AsyncSms(self)
        self.sandbox = _AsyncSandbox(self)
        self.account = _AsyncAccount(self)

    def __repr__(self) -> str:
        return f"AsyncClient(base_url={self._core.base_url!r})"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, call: Call[T]) -> T:
        key = self._core.key_for(call)
        attempt = 0
        while True:
            try:
                response = await self._http.send(self._core.request(call, key))
            except httpx.TransportError as exc:
                delay = self._core.retry.delay(attempt, None)
                if delay is None:
                    raise APIConnectionError(
                        f"could not reach {self._core.base_url}: {exc}"
                    ) from exc
            else:
                if response.is_success:
                    return call.parse(response.json())
                delay = self._core.retry.delay(attempt, response)
                if delay is None:
                    raise self._core.error(response)
            await self._sleep(delay)
            attempt += 1

    async def _pages(self, make: Callable[[str | None], Call[Page[T]]]) -> AsyncIterator[T]:
        cursor: str | None = None
        while True:
            page = await self._call(make(cursor))
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor


class _AsyncSms:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client
        self.batch = _AsyncBatch(client)
        self.otp = _AsyncOtp(client)

    async def send(self, to: str, body: str | None = None, **options: Any) -> SmsRecord:
        """Options as ``Client.sms.send``: from_, vendor, send_at, callback_url, ..."""
        return await self._c._call(calls.sms_send(to=to, body_=body, **options))

    async def status(self, sms_id: str) -> SmsRecord:
        return await self._c._call(calls.sms_status(sms_id))

    async def list(self, **filters: Any) -> Page[SmsRecord]:
        return await self._c._call(calls.sms_list(**filters))

    def list_all(self, **filters: Any) -> AsyncIterator[SmsRecord]:
        return self._c._pages(lambda cursor: calls.sms_list(**filters, cursor=cursor))

    async def events(self, sms_id: str, **params: Any) -> Page[SmsEvent]:
        return await self._c._call(calls.sms_events(sms_id, **params))

    async def cancel(self, sms_id: str) -> CancelResult:
        return await self._c._call(calls.sms_cancel(sms_id))

    async def resend(self, target_id: str, *, only_failed: bool = False) -> ResendResult:
        return await self._c._call(calls.sms_resend(target_id, only_failed))

    async def verify(self, to: str, code: str, *, request_id: str | None = None) -> VerifyResult:
        return await self._c._call(calls.sms_verify(to=to, code=code, request_id=request_id))


class _AsyncBatch:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def send(
        self, messages: list[dict[str, Any]], *, idempotency_key: str | None = None
    ) -> BatchResult:
        return await self._c._call(calls.sms_batch_send(messages, idempotency_key))


class _AsyncOtp:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def __call__(self, to: str, **options: Any) -> OtpRequest:
        return await self._c._call(calls.sms_otp(to=to, **options))

    async def status(self, request_id: str) -> OtpRequest:
        return await self._c._call(calls.otp_status(request_id))

    async def cancel(self, request_id: str) -> OtpRequest:
        return await self._c._call(calls.otp_cancel(request_id))


class _AsyncSandbox:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def messages(self, to: str | None = None, **params: Any) -> Page[SandboxMessage]:
        return await self._c._call(calls.sandbox_messages(to=to, **params))


class _AsyncAccount:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def me(self) -> Account:
        return await self._c._call(calls.account_me())
