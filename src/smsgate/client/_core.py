"""What the sync and async clients share: configuration, requests, retries, parsing.

Each API call is described once as a ``Call`` (method, path, query, body, result
model; see ``_calls``). ``Core`` turns a call into an HTTP request, decides whether
an answer or a transport failure is worth another attempt and how long to wait, and
turns the final answer into a model or an exception. ``Client`` and ``AsyncClient``
only send the request and sleep, each in its own way.
"""

from __future__ import annotations

import logging
import os
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from smsgate.client.credentials import credentials_path, mask_key, read_credentials
from smsgate.client.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    SmsgateConfigError,
    from_response,
    parse_retry_after,
)

log = logging.getLogger("smsgate.client")

M = TypeVar("M", bound=BaseModel)

DEFAULT_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IN_PROGRESS = "idempotency_request_in_progress"


def _version() -> str:
    try:
        return metadata.version("smsgate")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "0"


USER_AGENT = f"smsgate-python/{_version()}"


class Secret:
    """The API key. Its ``repr``/``str`` show a masked prefix, so it cannot leak by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({mask_key(self._value)!r})"

    __str__ = __repr__


# -- configuration ------------------------------------------------------------------


def _origin(url: str) -> tuple[str, str, int | None, str]:
    u = httpx.URL(url)
    port = u.port or {"http": 80, "https": 443}.get(u.scheme)
    return u.scheme, u.host.lower(), port, u.path.rstrip("/")


def _check_url(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise SmsgateConfigError(f"The smsgate URL {url!r} is not a valid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise SmsgateConfigError(
            f"The smsgate URL {url!r} must look like http://host:port or https://host"
        )
    return url.rstrip("/")


def resolve_config(base_url: str | None, api_key: str | None) -> tuple[str, Secret]:
    """The server URL and key: arguments first, then the environment variables
    ``SMSGATE_URL`` / ``SMSGATE_API_KEY``, then the credentials file; the URL defaults to
    ``http://127.0.0.1:8000``.

    The file's key is only used for the file's own server: it is not sent to a URL
    that came from an argument or the environment and names a different server.
    """
    url = (base_url or os.environ.get("SMSGATE_URL") or "").strip() or None
    key = (api_key or os.environ.get("SMSGATE_API_KEY") or "").strip() or None
    if url is None or key is None:
        creds = read_credentials()
        if creds is not None:
            if url is None:
                url = creds.url
            if key is None:
                if _origin(_check_url(url)) != _origin(_check_url(creds.url)):
                    raise SmsgateConfigError(
                        f"No API key for {url}: the credentials file {credentials_path()} "
                        f"holds a key for {creds.url}. Pass api_key= or set SMSGATE_API_KEY."
                    )
                key = creds.api_key.strip()
    url = _check_url(url or DEFAULT_URL)
    if not key:
        raise SmsgateConfigError(
            "No API key: pass api_key=, set SMSGATE_API_KEY, or run `smsgate init` "
            f"(which writes {credentials_path()})."
        )
    return url, Secret(key)


# -- requests -----------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Datetimes as ISO 8601 UTC with ``Z``; None dropped from dicts."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()}: pass a timezone-aware datetime, "
                "e.g. datetime.now(UTC)"
            )
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def body(**fields: Any) -> dict[str, Any]:
    """A request body without the fields left as None (``from_`` is sent as ``from``)."""
    if "from_" in fields:
        fields["from"] = fields.pop("from_")
    result: dict[str, Any] = jsonable(fields)
    return result


def segment(value: str) -> str:
    """An id as one path segment (``/`` and friends escaped)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty id string, got {value!r}")
    return quote(value, safe="")


@dataclass(frozen=True)
class Call(Generic[M]):
    """One API call: what to send and which model the answer is."""

    method: str
    path: str
    result: type[M]
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    idempotency_key: str | None = None
    """The caller's key; a POST without one gets a fresh key per logical call."""

    def with_params(self, **params: Any) -> Call[M]:
        return Call(
            self.method,
            self.path,
            self.result,
            {**self.params, **params},
            self.json,
            self.idempotency_key,
        )


# -- retries ------------------------------------------------------------------------


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter; ``Retry-After`` wins when the server sends it."""

    max_retries: int = 3
    base: float = 0.25
    cap: float = 8.0
    max_retry_after: float = 30.0

    def backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap, self.base * 2**attempt))

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            after = parse_retry_after(response.headers.get("retry-after"))
            if after is not None:
                return min(after, self.max_retry_after)
        return self.backoff(attempt)


def _error_code(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


class Core:
    """Configuration and every decision of a request; no I/O."""

    def __init__(
        self, base_url: str | None, api_key: str | None, retry: RetryPolicy | None = None
    ) -> None:
        self.base_url, self._api_key = resolve_config(base_url, api_key)
        self.retry = retry or RetryPolicy()

    def __repr__(self) -> str:
        return f"Core(base_url={self.base_url!r})"

    def headers(self, idempotency_key: str | None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._api_key.reveal()}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    @staticmethod
    def idempotency_key(call: Call[Any]) -> str | None:
        """The caller's key, or a new one for a POST: the same for every retry of the call."""
        if call.idempotency_key:
            return call.idempotency_key
        return uuid.uuid4().hex if call.method == "POST" else None

    def request_args(self, call: Call[Any], idempotency_key: str | None) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client.build_request`` (and the async one)."""
        return {
            "method": call.method,
            "url": self.base_url + call.path,
            "params": {k: jsonable(v) for k, v in call.params.items() if v is not None},
            "json": call.json,
            "headers": self.headers(idempotency_key),
        }

    def retry_delay(
        self, call: Call[Any], attempt: int, response: httpx.Response | None
    ) -> float | None:
        """Seconds to wait before another attempt, or None to stop at this answer.

        ``response`` is None after a transport failure (refused, reset, timeout...).
        Retried: those failures and 429/500/502/503/504, and a 409 that says the same
        idempotency key is still being processed (our earlier attempt, still running).
        """
        if attempt >= self.retry.max_retries:
            return None
        if response is not None:
            status = response.status_code
            in_progress = (
                status == 409
                and self.idempotency_key_sent(response)
                and _error_code(response) == IN_PROGRESS
            )
            if status not in RETRY_STATUSES and not in_progress:
                return None
        delay = self.retry.delay(attempt, response)
        what = f"HTTP {response.status_code}" if response is not None else "no answer"
        log.debug(
            "smsgate %s %s: %s, retry %d/%d in %.2fs",
            call.method,
            call.path,
            what,
            attempt + 1,
            self.retry.max_retries,
            delay,
        )
        return delay

    @staticmethod
    def idempotency_key_sent(response: httpx.Response) -> bool:
        try:
            return "idempotency-key" in response.request.headers
        except RuntimeError:  # a response built without a request
            return False

    def result(self, call: Call[M], response: httpx.Response) -> M:
        """The model of a 2xx answer; the matching exception for anything else."""
        if not response.is_success:
            raise self.error(response)
        if response.headers.get("idempotent-replayed") == "true":
            log.debug("smsgate %s %s: replayed answer", call.method, call.path)
        try:
            data = response.json()
        except ValueError as exc:
            raise self._bad_answer(response, "invalid_response", "is not JSON") from exc
        try:
            return call.result.model_validate(data)
        except ValidationError as exc:
            summary = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                for e in exc.errors()[:3]
            )
            raise self._bad_answer(
                response, "unexpected_response", f"does not match {call.result.__name__}: {summary}"
            ) from exc

    def _bad_answer(self, response: httpx.Response, code: str, why: str) -> APIError:
        return APIError(
            status=response.status_code,
            type="api_error",
            code=code,
            message=f"The answer to {response.request.method} {response.request.url.path} {why}",
            request_id=response.headers.get("x-request-id"),
            headers=response.headers,
        )

    def error(self, response: httpx.Response) -> APIStatusError:
        try:
            data = response.json()
        except ValueError:
            data = None
        return from_response(response.status_code, response.headers, data, self.redact)

    def redact(self, text: str) -> str:
        """``text`` without the API key (a server should never echo it; if one does...)."""
        key = self._api_key.reveal()
        return text.replace(key, mask_key(key)) if key in text else text

    def connection_error(
        self, call: Call[Any], exc: Exception, attempts: int
    ) -> APIConnectionError:
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        detail = self.redact(str(exc) or type(exc).__name__)
        cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
        verb = "did not answer in time" if cls is APITimeoutError else "could not be reached"
        return cls(f"{self.base_url} {verb} for {call.method} {call.path}{tries}: {detail}")


def retryable_transport_error(exc: httpx.TransportError) -> bool:
    """False for failures another attempt cannot fix (an unsupported URL scheme...)."""
    return not isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError)
