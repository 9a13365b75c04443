"""Twilio Programmable Messaging, over its REST API (no SDK).

Send: ``POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded
``To``, ``From`` (or ``MessagingServiceSid``), ``Body``, ``StatusCallback``, with HTTP
Basic auth (Account SID, Auth Token). Answer 201 with the message ``sid``.

Status callbacks: Twilio POSTs a form (``MessageSid``, ``MessageStatus``, ``ErrorCode``)
to the ``StatusCallback`` URL, signed in ``X-Twilio-Signature``: base64 of HMAC-SHA1,
keyed with the Auth Token, over the full URL followed by every POST parameter's name
and value, sorted by name.

| Twilio ``MessageStatus`` | smsgate |
|---|---|
| accepted, queued, scheduled, sending | (no change: still on its way) |
| sent | sent |
| delivered, read | delivered |
| undelivered | undelivered |
| failed, canceled | failed |
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import ClassVar
from urllib.parse import parse_qsl

import httpx
from pydantic import SecretStr

from smsgate.vendors.base import (
    CallbackRequest,
    InboundMessage,
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
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}
# Twilio error codes on a 4xx answer that are worth retrying; every other 4xx is permanent.
TRANSIENT_CODES = {20003: "vendor_auth_failed", 20429: "vendor_throttled", 30001: "queue_overflow"}


def signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    payload = url + "".join(f"{k}{v}" for k, v in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class TwilioVendor(HttpVendor):
    kind: ClassVar[str] = "twilio"
    repr_fields: ClassVar[tuple[str, ...]] = ("account_sid",)

    def __init__(
        self,
        name: str,
        *,
        account_sid: str,
        auth_token: SecretStr,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        callback_url: str | None = None,
        base_url: str = "https://api.twilio.com",
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(name, http, timeout, base_url=base_url, callback_url=callback_url)
        if not (from_ or messaging_service_sid):
            raise ValueError(f"vendor {name}: Twilio needs 'from' or 'messaging_service_sid'")
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.from_ = from_
        self.messaging_service_sid = messaging_service_sid

    async def send(self, message: OutboundMessage) -> Submitted:
        form = {"To": message.to, "Body": message.body}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            form["From"] = message.from_ or self.from_ or ""
        if self.callback_url:
            form["StatusCallback"] = self.callback_url
        response = await self.request(
            "POST",
            f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json",
            data=form,
            auth=(self.account_sid, self._auth_token.get_secret_value()),
        )
        self.check_response(response, self._client_error)
        try:
            sid = response.json()["sid"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TransientVendorError(
                "vendor_bad_answer", "Twilio answered without a sid"
            ) from exc
        return Submitted(str(sid))

    async def check(self) -> str:
        """Fetch the account resource: proves the URL, the SID and the token."""
        response = await self.request(
            "GET",
            f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}.json",
            auth=(self.account_sid, self._auth_token.get_secret_value()),
        )
        self.check_response(response, self._client_error)
        body = response.json()
        return f"account {body.get('friendly_name', self.account_sid)} ({body.get('status', '?')})"

    def _client_error(self, response: httpx.Response) -> VendorError:
        try:
            body = response.json()
            code, text = int(body.get("code") or 0), str(body.get("message") or "")
        except (ValueError, TypeError, AttributeError):
            code, text = 0, response.text[:200]
        if code in TRANSIENT_CODES:
            return TransientVendorError(TRANSIENT_CODES[code], f"Twilio {code}: {text}")
        return PermanentVendorError(f"twilio_{code or response.status_code}", text or "rejected")

    def parse_callback(self, request: CallbackRequest) -> list[VendorEvent | InboundMessage]:
        params = parse_qsl(request.body.decode(), keep_blank_values=True)
        expected = signature(self._auth_token.get_secret_value(), request.url, params)
        given = request.headers.get("x-twilio-signature", "")
        if not hmac.compare_digest(expected, given):
            raise InvalidCallback("bad X-Twilio-Signature")
        form = dict(params)
        sid = form.get("MessageSid") or form.get("SmsSid")
        if "MessageStatus" not in form and "From" in form and "Body" in form:
            # An incoming message (the number's "A message comes in" webhook).
            return [
                InboundMessage(
                    from_=form["From"],
                    to=form.get("To", ""),
                    body=form["Body"],
                    vendor_message_id=sid,
                )
            ]
        state = STATUS_MAP.get(form.get("MessageStatus", ""))
        if state is None or not sid:
            return []
        code = form.get("ErrorCode") or None
        return [
            VendorEvent(
                kind="receipt",
                state=state,  # type: ignore[arg-type]
                vendor_message_id=sid,
                error_code=f"twilio_{code}" if code else None,
                error_message=f"Twilio error {code}" if code else None,
            )
        ]
