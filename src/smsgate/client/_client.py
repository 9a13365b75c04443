"""``Client`` (blocking) and ``AsyncClient``: the same calls, two ways of sending them.

Everything but the I/O is in ``_core.Core`` (requests, retry decisions, parsing) and
``_resources`` (the namespaces, shared by both clients).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from smsgate.client._core import Call, Core, RetryPolicy, retryable_transport_error
from smsgate.client._resources import AccountAPI, Async, SandboxAPI, SmsAPI, Sync
from smsgate.client.models import Page

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


class _Base:
    def __init__(self, base_url: str | None, api_key: str | None, max_retries: int) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self._core = Core(base_url, api_key, RetryPolicy(max_retries=max_retries))

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def max_retries(self) -> int:
        return self._core.retry.max_retries

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._core.base_url!r})"


class Client(_Base):
    """Blocking client.

    ``Client()`` finds the server and key by itself: arguments, then ``SMSGATE_URL`` /
    ``SMSGATE_API_KEY``, then the credentials file written by ``smsgate init``.
    Failed requests (connection errors, timeouts, 429 and 5xx) are retried up to
    ``max_retries`` times with backoff; a POST keeps one idempotency key across its
    retries. ``timeout`` applies when the client makes its own ``httpx.Client``; a
    given ``http_client`` keeps its own settings and is not closed by ``close()``.

    Namespaces: ``sms`` (with ``sms.batch`` and ``sms.otp``), ``sandbox``, ``account``.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, api_key, max_retries)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(timeout=timeout)
        self._sleep: Callable[[float], None] = time.sleep
        self.sms: SmsAPI[Sync] = SmsAPI(self)
        self.sandbox: SandboxAPI[Sync] = SandboxAPI(self)
        self.account: AccountAPI[Sync] = AccountAPI(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (unless the ``http_client`` was given)."""
        if self._owns_http:
            self._http.close()

    def _call(self, call: Call[M]) -> M:
        core = self._core
        key = core.idempotency_key(call)
        attempt = 0
        while True:
            request = self._http.build_request(**core.request_args(call, key))
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                delay = core.retry_delay(call, attempt, None)
                if delay is None or not retryable_transport_error(exc):
                    raise core.connection_error(call, exc, attempt + 1) from exc
            else:
                delay = core.retry_delay(call, attempt, response)
                if delay is None:
                    return core.result(call, response)
            self._sleep(delay)
            attempt += 1

    def _pages(self, first: Call[Page[R]]) -> Iterator[R]:
        call: Call[Page[R]] | None = first
        while call is not None:
            page = self._call(call)
            yield from page.items
            call = first.with_params(cursor=page.next_cursor) if page.next_cursor else None


class AsyncClient(_Base):
    """The asyncio twin of ``Client``: the same namespaces, every call awaited.

    ``list_all``-style methods return async iterators: ``async for sms in
    client.sms.list_all(): ...``. Use ``async with AsyncClient() as client:`` or
    ``await client.close()``.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, api_key, max_retries)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)
        self._sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
        self.sms: SmsAPI[Async] = SmsAPI(self)
        self.sandbox: SandboxAPI[Async] = SandboxAPI(self)
        self.account: AccountAPI[Async] = AccountAPI(self)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool (unless the ``http_client`` was given)."""
        if self._owns_http:
            await self._http.aclose()

    async def _call(self, call: Call[M]) -> M:
        core = self._core
        key = core.idempotency_key(call)
        attempt = 0
        while True:
            request = self._http.build_request(**core.request_args(call, key))
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                delay = core.retry_delay(call, attempt, None)
                if delay is None or not retryable_transport_error(exc):
                    raise core.connection_error(call, exc, attempt + 1) from exc
            else:
                delay = core.retry_delay(call, attempt, response)
                if delay is None:
                    return core.result(call, response)
            await self._sleep(delay)
            attempt += 1

    async def _pages(self, first: Call[Page[R]]) -> AsyncIterator[R]:
        call: Call[Page[R]] | None = first
        while call is not None:
            page = await self._call(call)
            for item in page.items:
                yield item
            call = first.with_params(cursor=page.next_cursor) if page.next_cursor else None
