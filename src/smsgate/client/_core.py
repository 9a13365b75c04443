"""What the sync and async clients share: configuration, requests, retries, parsing.

Each API call is described once as a ``Call`` (method, path, params, body, result
model); ``Client`` and ``AsyncClient`` only differ in how they send it and sleep.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from smsgate.client.credentials import read_credentials
from smsgate.client.errors import APIStatusError, SmsgateConfigError, from_response

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "smsgate-python"


def resolve(base_url: str | None, api_key: str | None) -> tuple[str, str]:
    """Arguments first, then SMSGATE_URL / SMSGATE_API_KEY, then the credentials file."""
    creds = None
    if base_url is None or api_key is None:
        creds = read_credentials()
    url = base_url or os.environ.get("SMSGATE_URL") or (creds.url if creds else None)
    key = api_key or os.environ.get("SMSGATE_API_KEY") or (creds.api_key if creds else None)
    if not key:
        raise SmsgateConfigError(
            "No API key: pass api_key=, set SMSGATE_API_KEY, or run `smsgate init`."
        )
    return (url or DEFAULT_URL).rstrip("/"), key


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetimes sent to smsgate must be timezone-aware")
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def body(**fields: Any) -> dict[str, Any]:
    """A request body without the fields left as None (``from_`` is sent as ``from``)."""
    if "from_" in fields:
        fields["from"] = fields.pop("from_")
    result: dict[str, Any] = _jsonable(fields)
    return result


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    result: Any
    """A pydantic model class or type the answer parses into."""
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    creates: bool = False
    """A POST that makes or changes something: it carries an idempotency key."""
    idempotency_key: str | None = None

    def parse(self, data: Any) -> T:
        adapter: TypeAdapter[T] = TypeAdapter(self.result)
        return adapter.validate_python(data)


@dataclass
class Retry:
    max_retries: int = 3
    base: float = 0.25
    cap: float = 8.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before retry ``attempt + 1``, or None to stop."""
        if attempt >= self.max_retries:
            return None
        if response is not None:
            if response.status_code not in RETRY_STATUSES:
                return None
            after = response.headers.get("retry-after")
            if after is not None:
                try:
                    return min(max(float(after), 0.0), self.max_retry_after)
                except ValueError:
                    pass
        return random.uniform(0, min(self.cap, self.base * 2**attempt))  # full jitter


class Core:
    def __init__(self, base_url: str | None, api_key: str | None, max_retries: int) -> None:
        self.base_url, self._api_key = resolve(base_url, api_key)
        self.retry = Retry(max_retries=max_retries)

    def __repr__(self) -> str:
        return f"Core(base_url={self.base_url!r})"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}", "User-Agent": USER_AGENT}

    def request(self, call: Call[Any], idempotency_key: str | None) -> httpx.Request:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        params = {k: _jsonable(v) for k, v in call.params.items() if v is not None}
        return httpx.Request(
            call.method,
            self.base_url + call.path,
            params=params,
            json=call.json,
            headers={**self.headers, **headers},
        )

    @staticmethod
    def key_for(call: Call[Any]) -> str | None:
        if call.idempotency_key:
            return call.idempotency_key
        return uuid.uuid4().hex if call.creates else None

    @staticmethod
    def error(response: httpx.Response) -> APIStatusError:
        try:
            data = response.json()
        except ValueError:
            data = None
        return from_response(response.status_code, response.headers, data)


def page_of(model: type[BaseModel]) -> Any:
    from smsgate.client.models import Page

    return Page[model]  # type: ignore[valid-type]


def clean(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}
