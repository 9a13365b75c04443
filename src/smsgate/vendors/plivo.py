"""Plivo Messaging API, over plain HTTP (no SDK).

Send: ``POST {base_url}/v1/Account/{auth_id}/Message/`` with HTTP Basic auth (Auth ID,
Auth Token) and JSON ``{src, dst, text, url, method}`` (``powerpack_uuid`` instead of
``src`` when sending from a number pool). The answer is 202 with ``message_uuid``, a
list holding one id per destination; errors come as ``{api_id, error}``.

Status callbacks: Plivo calls ``url`` with ``method`` (we ask for POST, a form of
``MessageUUID``, ``Status``, ``ErrorCode``, ...) and signs it with its V3 signature:
``X-Plivo-Signature-V3-Nonce`` holds a nonce and ``X-Plivo-Signature-V3`` the base64
HMAC-SHA256, keyed with the Auth Token, of ``{signed URL}.{nonce}``, where the signed
URL is the callback URL without its query, then ``?`` and its query parameters sorted
(``name=value`` joined by ``&``), then for a POST with parameters a ``.`` (only when
the query was not empty) and every POST parameter sorted by name as ``namevalue``.
The header may hold several signatures separated by commas (one per active token);
one match is enough, in it or in ``X-Plivo-Signature-Ma-V3`` (the same scheme, which
Plivo signs with the main account's token when the message went through a subaccount).

| Plivo ``Status`` | smsgate |
|---|---|
| queued | (no change: still on its way) |
| sent | sent |
| delivered | delivered |
| undelivered | undelivered |
| failed, rejected | failed |

| send answer | smsgate |
|---|---|
| 202 with ``message_uuid`` | sent |
| 429, 5xx, timeout, connection refused | retried (``vendors/http.py``) |
| 401 | retried: credentials are an operator's fix (``vendor_auth_failed``) |
| any other 4xx | failed, ``plivo_http_<status>`` with Plivo's ``error`` text |
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from smsgate.vendors.base import (
    CallbackRequest,
    InvalidCallback,
    OutboundMessage,
    PermanentVendorError,
    Submitted,
    TransientVendorError,
    VendorError,
    VendorEvent,
)
from smsgate.vendors.http import HttpVendor

STATUS_MAP: dict[str, str] = {
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "rejected": "failed",
}
# What Plivo's documented delivery error codes mean (``ErrorCode`` of a receipt).
ERROR_REASONS: dict[str, str] = {
    "10": "Invalid message (rejected by a downstream carrier)",
    "20": "Network error at the carrier (temporary)",
    "30": "Spam detected by the carrier",
    "40": "Invalid source number",
    "50": "Invalid destination number",
    "450": "Destination country barred by the account's geo permissions",
}
# HTTP answers to a send, other than 429 and 5xx, that are worth retrying.
TRANSIENT_STATUSES: dict[int, str] = {401: "vendor_auth_failed"}


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def signed_url(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The string Plivo's V3 signature covers, before ``.{nonce}`` is appended.

    ``params`` are the request's POST parameters (for a GET, its query parameters
    beyond those already in ``url``).
    """
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    query = _grouped(parse_qsl(parts.query, keep_blank_values=True))
    posted = _grouped(params)
    if method.upper() == "GET":
        query = {**posted, **query}
        posted = {}
    query_string = "&".join(
        f"{key}={value}" for key in sorted(query) for value in sorted(query[key])
    )
    if query_string or posted:
        base += "?" + query_string
    if query_string and posted:
        base += "."
    return base + "".join(
        f"{key}{value}" for key in sorted(posted) for value in sorted(posted[key])
    )


def signature_v3(
    auth_token: str, method: str, url: str, params: Iterable[tuple[str, str]], nonce: str
) -> str:
    payload = f"{signed_url(method, url, params)}.{nonce}"
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class PlivoVendor(HttpVendor):
    kind: ClassVar[str] = "plivo"
    repr_fields: ClassVar[tuple[str, ...]] = ("auth_id",)

    def __init__(
        self,
        name: str,
        *,
        auth_id: str,
        auth_token: SecretStr,
        from_: str | None = None,
        powerpack_uuid: str | None = None,
        callback_url: str | None = None,
        base_url: str = "https://api.plivo.com",
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(name, http, timeout, base_url=base_url, callback_url=callback_url)
        if not (from_ or powerpack_uuid):
            raise ValueError(f"vendor {name}: Plivo needs 'from' or 'powerpack_uuid'")
        self.auth_id = auth_id
        self._auth_token = auth_token
        self.from_ = from_
        self.powerpack_uuid = powerpack_uuid

    def _auth(self) -> tuple[str, str]:
        return (self.auth_id, self._auth_token.get_secret_value())

    async def send(self, message: OutboundMessage) -> Submitted:
        payload: dict[str, Any] = {"dst": message.to, "text": message.body}
        if self.powerpack_uuid and not message.from_:
            payload["powerpack_uuid"] = self.powerpack_uuid
        else:
            payload["src"] = message.from_ or self.from_
        if self.callback_url:
            payload["url"] = self.callback_url
            payload["method"] = "POST"
        response = await self.request(
            "POST",
            f"{self.base_url}/v1/Account/{self.auth_id}/Message/",
            json=payload,
            auth=self._auth(),
        )
        self.check_response(response, self._client_error)
        try:
            uuids = response.json()["message_uuid"]
            return Submitted(str(uuids[0]))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise TransientVendorError(
                "vendor_bad_answer", "Plivo answered without a message_uuid"
            ) from exc

    async def check(self) -> str:
        """Fetch the account: proves the URL, the Auth ID and the token."""
        response = await self.request(
            "GET", f"{self.base_url}/v1/Account/{self.auth_id}/", auth=self._auth()
        )
        self.check_response(response, self._client_error)
        body = response.json()
        return f"account {body.get('name', self.auth_id)} (credits {body.get('cash_credits', '?')})"

    def _client_error(self, response: httpx.Response) -> VendorError:
        try:
            text = str(response.json().get("error") or "")
        except (ValueError, AttributeError):
            text = response.text[:200]
        status = response.status_code
        if status in TRANSIENT_STATUSES:
            return TransientVendorError(TRANSIENT_STATUSES[status], f"Plivo {status}: {text}")
        return PermanentVendorError(f"plivo_http_{status}", text or "rejected")

    def parse_callback(self, request: CallbackRequest) -> list[VendorEvent]:
        params = parse_qsl(request.body.decode(errors="replace"), keep_blank_values=True)
        nonce = request.headers.get("x-plivo-signature-v3-nonce", "")
        given = [
            s.strip()
            for header in ("x-plivo-signature-v3", "x-plivo-signature-ma-v3")
            for s in request.headers.get(header, "").split(",")
        ]
        expected = signature_v3(
            self._auth_token.get_secret_value(), request.method, request.url, params, nonce
        )
        if not nonce or not any(hmac.compare_digest(expected, s) for s in given if s):
            raise InvalidCallback("bad X-Plivo-Signature-V3")
        form = {**dict(parse_qsl(urlsplit(request.url).query)), **dict(params)}
        state = STATUS_MAP.get(form.get("Status", ""))
        uuid = form.get("MessageUUID")
        if state is None or not uuid:
            return []
        code = form.get("ErrorCode") or ""
        failed = state in ("undelivered", "failed") and code not in ("", "000")
        return [
            VendorEvent(
                kind="receipt",
                state=state,  # type: ignore[arg-type]
                vendor_message_id=uuid,
                error_code=f"plivo_{code}" if failed else None,
                error_message=ERROR_REASONS.get(code, f"Plivo error {code}") if failed else None,
            )
        ]
