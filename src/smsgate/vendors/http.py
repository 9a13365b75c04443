"""What every HTTP vendor shares: an injected ``httpx.AsyncClient`` and one boundary
where transport failures and HTTP statuses become transient or permanent errors.

    httpx.TimeoutException        → TransientVendorError(vendor_timeout)
    httpx.TransportError          → TransientVendorError(vendor_unreachable)
    429                           → TransientVendorError(vendor_throttled, retry_after)
    5xx                           → TransientVendorError(vendor_unavailable)
    other 4xx                     → the vendor's own table (permanent unless it says so)
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar

import httpx

from smsgate.vendors.base import TransientVendorError, Vendor, VendorError


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _quiet_http_loggers() -> None:
    """httpx logs every request's full URL at INFO (and httpcore more at DEBUG); vendor URLs
    can carry credentials (a templated upstream's password), so keep them above that."""
    for name, floor in (("httpx", logging.WARNING), ("httpcore", logging.INFO)):
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.level, floor))


class HttpVendor(Vendor):
    repr_fields: ClassVar[tuple[str, ...]] = ()
    """Public, non-secret attributes that ``repr`` shows besides the name."""

    def __init__(
        self,
        name: str,
        http: httpx.AsyncClient | None,
        timeout: float,
        *,
        base_url: str = "",
        callback_url: str | None = None,
    ) -> None:
        _quiet_http_loggers()
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.callback_url = callback_url
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(timeout=timeout)

    def __repr__(self) -> str:
        shown = "".join(f", {f}={getattr(self, f)!r}" for f in self.repr_fields)
        return f"{type(self).__name__}(name={self.name!r}{shown})"

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientVendorError("vendor_timeout", f"{self.name} timed out") from exc
        except httpx.TransportError as exc:
            raise TransientVendorError(
                "vendor_unreachable", f"{self.name} could not be reached: {type(exc).__name__}"
            ) from exc

    def check_response(
        self,
        response: httpx.Response,
        client_error: Callable[[httpx.Response], VendorError],
    ) -> None:
        """Raise for a non-2xx answer; ``client_error`` classifies the vendor's 4xx."""
        status = response.status_code
        if status < 300:
            return
        if status == 429:
            raise TransientVendorError(
                "vendor_throttled",
                f"{self.name} asked us to slow down",
                retry_after=retry_after_seconds(response),
            )
        if status >= 500:
            raise TransientVendorError(
                "vendor_unavailable",
                f"{self.name} answered {status}",
                retry_after=retry_after_seconds(response),
            )
        raise client_error(response)
