"""Telnyx Messaging API v2, over plain HTTP (no SDK).

Send: ``POST {base_url}/v2/messages`` with ``Authorization: Bearer <API key>`` and JSON
``{from, to, text, webhook_url}`` (or ``messaging_profile_id`` instead of ``from``);
the answer's ``data.id`` is the message id. Errors come as
``{"errors": [{"code", "title", "detail"}]}``.

Webhooks (JSON) are signed with Ed25519: ``telnyx-signature-ed25519`` is the base64
signature of ``{telnyx-timestamp}|{raw body}``, checked against the account's public
key; the timestamp must be within five minutes.

| event / ``to[0].status`` | smsgate |
|---|---|
| message.sent / sent | sent |
| message.finalized / delivered | delivered |
| message.finalized / delivery_failed | undelivered |
| message.finalized / sending_failed | failed |
| delivery_unconfirmed, queued, sending | (no change) |
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any, ClassVar

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
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

STATUS_MAP = {
    "sent": "sent",
    "delivered": "delivered",
    "delivery_failed": "undelivered",
    "sending_failed": "failed",
}
MAX_SKEW_SECONDS = 300


class TelnyxVendor(HttpVendor):
    kind: ClassVar[str] = "telnyx"

    def __init__(
        self,
        name: str,
        *,
        api_key: SecretStr,
        public_key: str,
        from_: str | None = None,
        messaging_profile_id: str | None = None,
        callback_url: str | None = None,
        base_url: str = "https://api.telnyx.com",
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(name, http, timeout, base_url=base_url, callback_url=callback_url)
        if not (from_ or messaging_profile_id):
            raise ValueError(f"vendor {name}: Telnyx needs 'from' or 'messaging_profile_id'")
        self._api_key = api_key
        try:
            self._public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
        except (ValueError, binascii.Error) as exc:
            raise ValueError(f"vendor {name}: public_key is not a base64 Ed25519 key") from exc
        self.from_ = from_
        self.messaging_profile_id = messaging_profile_id

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key.get_secret_value()}"}

    async def send(self, message: OutboundMessage) -> Submitted:
        payload: dict[str, Any] = {"to": message.to, "text": message.body}
        if message.from_ or self.from_:
            payload["from"] = message.from_ or self.from_
        if self.messaging_profile_id:
            payload["messaging_profile_id"] = self.messaging_profile_id
        if self.callback_url:
            payload["webhook_url"] = self.callback_url
        response = await self.request(
            "POST", f"{self.base_url}/v2/messages", json=payload, headers=self._auth()
        )
        self.check_response(response, self._client_error)
        try:
            return Submitted(str(response.json()["data"]["id"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise TransientVendorError(
                "vendor_bad_answer", "Telnyx answered without an id"
            ) from exc

    async def check(self) -> str:
        response = await self.request("GET", f"{self.base_url}/v2/balance", headers=self._auth())
        self.check_response(response, self._client_error)
        data = response.json().get("data", {})
        return f"balance {data.get('balance', '?')} {data.get('currency', '')}".strip()

    def _client_error(self, response: httpx.Response) -> VendorError:
        try:
            first = response.json()["errors"][0]
            code, text = str(first.get("code", "")), str(first.get("detail") or first.get("title"))
        except (ValueError, KeyError, IndexError, TypeError):
            code, text = "", response.text[:200]
        if response.status_code in (401, 403):
            return TransientVendorError("vendor_auth_failed", f"Telnyx {code}: {text}")
        return PermanentVendorError(f"telnyx_{code or response.status_code}", text or "rejected")

    def parse_callback(self, request: CallbackRequest) -> list[VendorEvent]:
        timestamp = request.headers.get("telnyx-timestamp", "")
        try:
            signature = base64.b64decode(request.headers.get("telnyx-signature-ed25519", ""))
            self._public_key.verify(signature, timestamp.encode() + b"|" + request.body)
            skew = abs(time.time() - int(timestamp))
        except (InvalidSignature, ValueError, binascii.Error) as exc:
            raise InvalidCallback("bad telnyx-signature-ed25519") from exc
        if skew > MAX_SKEW_SECONDS:
            raise InvalidCallback("telnyx-timestamp too old (replay?)")
        try:
            data = json.loads(request.body)["data"]
            payload = data["payload"]
            status = str(payload["to"][0]["status"])
            message_id = str(payload["id"])
        except (ValueError, KeyError, IndexError, TypeError):
            return []
        if data.get("event_type") not in ("message.sent", "message.finalized"):
            return []
        state = STATUS_MAP.get(status)
        if state is None:
            return []
        errors = payload.get("errors") or []
        code = str(errors[0].get("code")) if errors and isinstance(errors[0], dict) else None
        return [
            VendorEvent(
                kind="receipt",
                state=state,  # type: ignore[arg-type]
                vendor_message_id=message_id,
                error_code=f"telnyx_{code}" if code and state != "delivered" else None,
                error_message=str(errors[0].get("title"))
                if code and state != "delivered"
                else None,
            )
        ]
