"""A vendor described by templates, for any HTTP gateway without its own adapter
(a Kannel or Jasmin box, an in-house service).

Sending fills ``url`` (and ``body`` for POST) with placeholders: ``{to}`` (E.164),
``{to_digits}`` (no ``+``), ``{from}``, ``{text}``, ``{sms_id}``, ``{callback}``, and every
key of ``params`` and ``secrets``. Values are URL-encoded in the URL and in form
bodies, JSON-escaped in JSON bodies. The answer is a success when its status is in
``success_status`` and its body matches ``success_regex``; ``message_id_regex`` (first
group) picks the upstream's id out of the body, else our ``sms_id`` is the id.
429 and 5xx are retried; any other answer fails the message.

Receipts come to ``{callback}``, which carries ``token``: the shared secret the
upstream must send back (the only proof such gateways can give). The receipt's
``id_param`` names the message id (ours or the upstream's), ``status_param`` its status,
mapped through ``statuses`` (e.g. Kannel's DLR codes ``1`` delivered, ``2``
undelivered, ``8`` sent, ``16`` rejected).
"""

from __future__ import annotations

import hmac
import json
import re
import string
from collections.abc import Mapping, Sequence
from typing import ClassVar, Literal
from urllib.parse import parse_qsl, quote

import httpx
from pydantic import SecretStr

from smsgate.vendors.base import (
    CallbackRequest,
    InvalidCallback,
    OutboundMessage,
    PermanentVendorError,
    Submitted,
    VendorError,
    VendorEvent,
)
from smsgate.vendors.http import HttpVendor

ReceiptState = Literal["sent", "delivered", "undelivered", "failed"]


class _Fields(string.Formatter):
    """``str.format`` that escapes every substituted value and refuses unknown names."""

    def __init__(self, escape: str) -> None:
        self.escape = escape

    def format_field(self, value: object, format_spec: str) -> str:
        text = str(value)
        if self.escape == "url":
            return quote(text, safe="")
        if self.escape == "json":
            return json.dumps(text)[1:-1]
        return text


class GenericHttpVendor(HttpVendor):
    kind: ClassVar[str] = "http"

    def __init__(
        self,
        name: str,
        *,
        url: str,
        method: Literal["GET", "POST"] = "GET",
        body: str | None = None,
        content_type: str = "application/x-www-form-urlencoded",
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        secrets: Mapping[str, SecretStr] | None = None,
        success_status: Sequence[int] = (200, 201, 202),
        success_regex: str = "",
        message_id_regex: str | None = None,
        callback_token: SecretStr | None = None,
        callback_url: str | None = None,
        id_param: str = "id",
        status_param: str = "status",
        statuses: Mapping[str, ReceiptState] | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(name, http, timeout)
        self.url, self.method, self.body, self.content_type = url, method, body, content_type
        self.headers = dict(headers or {})
        self.params = dict(params or {})
        self._secrets = dict(secrets or {})
        self.success_status = tuple(success_status)
        self.success_regex = re.compile(success_regex)
        self.message_id_regex = re.compile(message_id_regex) if message_id_regex else None
        self._token = callback_token
        self.callback_url = callback_url
        if callback_url and callback_token:
            self.callback_url = f"{callback_url}?token={callback_token.get_secret_value()}"
        self.id_param, self.status_param = id_param, status_param
        self.statuses = dict(statuses or {})

    def __repr__(self) -> str:
        return f"GenericHttpVendor(name={self.name!r}, method={self.method!r})"

    def _values(self, message: OutboundMessage) -> dict[str, str]:
        return {
            **self.params,
            **{k: v.get_secret_value() for k, v in self._secrets.items()},
            "to": message.to,
            "to_digits": message.to.lstrip("+"),
            "from": message.from_ or "",
            "text": message.body,
            "sms_id": message.sms_id,
            "callback": self.callback_url or "",
        }

    async def send(self, message: OutboundMessage) -> Submitted:
        values = self._values(message)
        try:
            url = _Fields("url").format(self.url, **values)
            headers = {k: _Fields("raw").format(v, **values) for k, v in self.headers.items()}
            content = None
            if self.method == "POST" and self.body is not None:
                escape = "json" if "json" in self.content_type else "url"
                content = _Fields(escape).format(self.body, **values).encode()
                headers.setdefault("Content-Type", self.content_type)
        except (KeyError, IndexError, ValueError) as exc:
            raise PermanentVendorError("vendor_template", f"bad template: {exc!r}") from exc
        response = await self.request(self.method, url, content=content, headers=headers)
        self.check_response(response, self._client_error)
        if response.status_code not in self.success_status or not self.success_regex.search(
            response.text
        ):
            raise PermanentVendorError(
                "vendor_rejected",
                f"{self.name} answered {response.status_code}: " + response.text[:200],
            )
        if self.message_id_regex is not None:
            found = self.message_id_regex.search(response.text)
            if found:
                return Submitted(found.group(1))
        return Submitted(message.sms_id)

    def _client_error(self, response: httpx.Response) -> VendorError:
        return PermanentVendorError(
            f"vendor_http_{response.status_code}", response.text[:200] or "rejected"
        )

    def parse_callback(self, request: CallbackRequest) -> list[VendorEvent]:
        query = dict(parse_qsl(request.url.partition("?")[2], keep_blank_values=True))
        token = query.get("token", "")
        if self._token is None or not hmac.compare_digest(
            token.encode(), self._token.get_secret_value().encode()
        ):
            raise InvalidCallback("missing or wrong token")
        fields = {
            **query,
            **dict(parse_qsl(request.body.decode(errors="replace"), keep_blank_values=True)),
        }
        state = self.statuses.get(fields.get(self.status_param, ""))
        ident = fields.get(self.id_param)
        if state is None or not ident:
            return []
        # Matched by (vendor, id) only: an id this vendor never got matches nothing.
        return [
            VendorEvent(
                kind="receipt",
                state=state,
                vendor_message_id=ident,
                error_code=f"{self.name}_status_{fields.get(self.status_param)}"
                if state in ("undelivered", "failed")
                else None,
            )
        ]
