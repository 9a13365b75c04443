"""A local fake of Vonage's SMS API, served over real HTTP on loopback.

``POST /sms/json`` (form, api_key/api_secret, ``messages[]`` with ``status``),
``GET /account/get-balance``, and the signed delivery receipt it POSTs to ``callback``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smsgate.vendors.vonage import signature
from tests.vendors.loopback import Faults, LoopbackServer


@dataclass
class FakeVonage:
    api_key: str = "abcd1234"
    api_secret: str = "fake-vonage-api-secret-0123456789"
    signature_secret: str = "fake-vonage-signature-secret-0123456789"
    received: list[dict[str, str]] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    port: int = 0
    _http: LoopbackServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reject_next(self, status: str, text: str) -> None:
        """The documented way Vonage refuses: HTTP 200 with a non-zero message status."""
        self.faults.fail(
            200, {"message-count": "1", "messages": [{"status": status, "error-text": text}]}
        )

    def fail_next(self, http_status: int, headers: dict[str, str] | None = None) -> None:
        self.faults.fail(http_status, {"error": "fault"}, headers)

    def hang_next(self, seconds: float) -> None:
        self.faults.hang(seconds)

    async def _send(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        self.received.append(form)
        if (fault := await self.faults.next()) is not None:
            return fault
        if form.get("api_key") != self.api_key or form.get("api_secret") != self.api_secret:
            return JSONResponse(
                {
                    "message-count": "1",
                    "messages": [{"status": "4", "error-text": "Bad Credentials"}],
                }
            )
        if not form.get("to", "").isdigit() or not form.get("text") or not form.get("from"):
            return JSONResponse(
                {
                    "message-count": "1",
                    "messages": [{"status": "3", "error-text": "Invalid Message"}],
                }
            )
        message_id = secrets.token_hex(8).upper()
        form["message-id"] = message_id
        return JSONResponse(
            {
                "message-count": "1",
                "messages": [
                    {
                        "to": form["to"],
                        "message-id": message_id,
                        "status": "0",
                        "remaining-balance": "10.0",
                        "message-price": "0.0079",
                        "network": "310260",
                        "client-ref": form.get("client-ref", ""),
                    }
                ],
            }
        )

    async def _balance(self, request: Request) -> Response:
        if request.query_params.get("api_secret") != self.api_secret:
            return JSONResponse({"error-code": "401", "error-code-label": "auth"}, status_code=401)
        return JSONResponse({"value": 10.5, "autoReload": False})

    def receipt_params(
        self,
        message_id: str,
        status: str,
        *,
        forge: bool = False,
        timestamp: int | None = None,
        err_code: str = "0",
    ) -> dict[str, str]:
        [sent] = [r for r in self.received if r.get("message-id") == message_id]
        params = {
            "msisdn": sent["to"],
            "to": sent["from"],
            "network-code": "310260",
            "messageId": message_id,
            "price": "0.0079",
            "status": status,
            "scts": "2611251000",
            "err-code": err_code,
            "message-timestamp": "2026-11-25 10:00:00",
            "timestamp": str(timestamp or int(time.time())),
            "nonce": secrets.token_hex(8),
            "client-ref": sent.get("client-ref", ""),
        }
        secret = "forged-secret" if forge else self.signature_secret
        params["sig"] = signature(params, secret, "md5hash")
        return params

    def delivery_receipt(self, message_id: str, status: str, **kw: Any) -> httpx.Response:
        [sent] = [r for r in self.received if r.get("message-id") == message_id]
        return httpx.post(
            sent["callback"], data=self.receipt_params(message_id, status, **kw), timeout=10
        )

    def start(self) -> FakeVonage:
        routes = [
            Route("/sms/json", self._send, methods=["POST"]),
            Route("/account/get-balance", self._balance, methods=["GET"]),
        ]
        self._http = LoopbackServer(routes, "fake Vonage")
        self.port = self._http.port
        self._http.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
