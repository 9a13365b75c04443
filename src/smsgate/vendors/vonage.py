"""Vonage (Nexmo) SMS API, over plain HTTP (no SDK).

Send: ``POST {base_url}/sms/json``, form-encoded ``api_key``, ``api_secret``, ``from``,
``to`` (digits, no ``+``), ``text``, ``type`` (``unicode`` for UCS-2), ``callback`` and
``client-ref`` (our sms_id). The answer is 200 with ``messages[]``; each has a
``status`` ("0" is success) and a ``message-id``. A long text is split by Vonage into
several messages: we keep the first part's id, and its receipt decides the state.

Delivery receipts arrive at ``callback`` and must be signed: the parameters except
``sig``, sorted by name, each written ``&name=value`` (``&`` and ``=`` in values
replaced by ``_``); ``md5hash`` is MD5 of that string followed by the signature
secret, the HMAC methods key the string with the secret. ``timestamp`` must be within
five minutes. Without a signature secret configured, callbacks are refused.

| Vonage receipt ``status`` | smsgate |
|---|---|
| accepted, buffered | sent |
| delivered | delivered |
| expired | undelivered |
| failed, rejected | failed |
| unknown | (no change) |

| submit ``status`` | smsgate |
|---|---|
| 0 | sent |
| 1 (throttled), 5 (internal error) | retried |
| anything else (3 invalid params, 4 credentials, 7 barred, 15 invalid sender, ...) | failed |

A failed submit's ``error_code`` is ``vonage_<status>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import ClassVar, Literal
from urllib.parse import parse_qsl

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

SignatureMethod = Literal["md5hash", "md5", "sha1", "sha256", "sha512"]
STATUS_MAP = {
    "accepted": "sent",
    "buffered": "sent",
    "delivered": "delivered",
    "expired": "undelivered",
    "failed": "failed",
    "rejected": "failed",
}
TRANSIENT_STATUSES = {"1": "vendor_throttled", "5": "vendor_unavailable"}
MAX_SKEW_SECONDS = 300


def signature(params: Mapping[str, str], secret: str, method: SignatureMethod) -> str:
    signed = "".join(
        f"&{k}={v.replace('&', '_').replace('=', '_')}"
        for k, v in sorted(params.items())
        if k != "sig"
    )
    if method == "md5hash":
        return hashlib.md5((signed + secret).encode()).hexdigest()  # noqa: S324 (Vonage's scheme)
    return hmac.new(secret.encode(), signed.encode(), method).hexdigest()


class VonageVendor(HttpVendor):
    kind: ClassVar[str] = "vonage"
    repr_fields: ClassVar[tuple[str, ...]] = ("api_key",)

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        api_secret: SecretStr,
        from_: str,
        signature_secret: SecretStr | None = None,
        signature_method: SignatureMethod = "md5hash",
        callback_url: str | None = None,
        base_url: str = "https://rest.nexmo.com",
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(name, http, timeout, base_url=base_url, callback_url=callback_url)
        self.api_key = api_key
        self._api_secret = api_secret
        self._signature_secret = signature_secret
        self.signature_method = signature_method
        self.from_ = from_

    async def send(self, message: OutboundMessage) -> Submitted:
        form = {
            "api_key": self.api_key,
            "api_secret": self._api_secret.get_secret_value(),
            "from": message.from_ or self.from_,
            "to": message.to.lstrip("+"),
            "text": message.body,
            "type": "unicode" if message.encoding == "UCS-2" else "text",
            "client-ref": message.sms_id,
        }
        if self.callback_url:
            form["callback"] = self.callback_url
        response = await self.request("POST", f"{self.base_url}/sms/json", data=form)
        self.check_response(response, self._client_error)
        try:
            first = response.json()["messages"][0]
            status = str(first["status"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise TransientVendorError(
                "vendor_bad_answer", "Vonage answered without messages"
            ) from exc
        if status == "0":
            return Submitted(str(first["message-id"]))
        text = str(first.get("error-text") or "rejected")
        if status in TRANSIENT_STATUSES:
            raise TransientVendorError(TRANSIENT_STATUSES[status], f"Vonage {status}: {text}")
        raise PermanentVendorError(f"vonage_{status}", text)

    async def check(self) -> str:
        response = await self.request(
            "GET",
            f"{self.base_url}/account/get-balance",
            params={"api_key": self.api_key, "api_secret": self._api_secret.get_secret_value()},
        )
        self.check_response(response, self._client_error)
        return f"balance {response.json().get('value', '?')} EUR"

    def _client_error(self, response: httpx.Response) -> VendorError:
        if response.status_code == 401:
            return TransientVendorError("vendor_auth_failed", "Vonage refused the credentials")
        return PermanentVendorError(f"vonage_http_{response.status_code}", response.text[:200])

    def parse_callback(self, request: CallbackRequest) -> list[VendorEvent]:
        params = self._params(request)
        if self._signature_secret is None:
            raise InvalidCallback("no signature_secret configured: unsigned receipts refused")
        given = params.get("sig", "")
        expected = signature(
            params, self._signature_secret.get_secret_value(), self.signature_method
        )
        if not given or not hmac.compare_digest(expected.lower(), given.lower()):
            raise InvalidCallback("bad sig")
        try:
            skew = abs(time.time() - int(params.get("timestamp", "0")))
        except ValueError:
            skew = float("inf")
        if skew > MAX_SKEW_SECONDS:
            raise InvalidCallback("timestamp too old or missing (replay?)")
        state = STATUS_MAP.get(params.get("status", ""))
        message_id = params.get("messageId") or params.get("message-id")
        if state is None or not message_id:
            return []
        err = params.get("err-code")
        failed = err not in (None, "", "0")
        return [
            VendorEvent(
                kind="receipt",
                state=state,  # type: ignore[arg-type]
                vendor_message_id=message_id,
                sms_id=None,
                error_code=f"vonage_err_{err}" if failed else None,
                error_message=f"Vonage error code {err}" if failed else None,
            )
        ]

    @staticmethod
    def _params(request: CallbackRequest) -> dict[str, str]:
        query = dict(parse_qsl(request.url.partition("?")[2], keep_blank_values=True))
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = json.loads(request.body or b"{}")
            except ValueError as exc:
                raise InvalidCallback("body is not JSON") from exc
            if not isinstance(body, dict):
                raise InvalidCallback("body is not an object")
            return {**query, **{k: str(v) for k, v in body.items()}}
        return {
            **query,
            **dict(parse_qsl(request.body.decode(errors="replace"), keep_blank_values=True)),
        }
