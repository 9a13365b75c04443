"""A local fake of Telnyx's Messaging API v2 (``POST /v2/messages``, ``GET /v2/balance``)
and its Ed25519-signed webhooks, served over real HTTP on loopback."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.vendors.loopback import Faults, LoopbackServer


@dataclass
class FakeTelnyx:
    api_key: str = "KEYfake-telnyx-api-key-0123456789"
    received: list[dict[str, Any]] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    port: int = 0
    _signing: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    _http: LoopbackServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def public_key(self) -> str:
        raw = self._signing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def fail_next(
        self, status: int, code: str = "10007", headers: dict[str, str] | None = None
    ) -> None:
        body = {"errors": [{"code": code, "title": "Error", "detail": f"fault {status}"}]}
        self.faults.fail(status, body, headers)

    def hang_next(self, seconds: float) -> None:
        self.faults.hang(seconds)

    async def _messages(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.received.append(body)
        if (fault := await self.faults.next()) is not None:
            return fault
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse(
                {"errors": [{"code": "10009", "title": "Authentication failed"}]}, status_code=401
            )
        to = str(body.get("to", ""))
        if not to.startswith("+") or not to[1:].isdigit():
            return JSONResponse(
                {
                    "errors": [
                        {
                            "code": "40310",
                            "title": "Invalid 'to' address",
                            "detail": "The 'to' address is invalid.",
                        }
                    ]
                },
                status_code=422,
            )
        message_id = str(uuid.uuid4())
        body["id"] = message_id
        return JSONResponse(
            {
                "data": {
                    "record_type": "message",
                    "id": message_id,
                    "to": [{"phone_number": to, "status": "queued"}],
                    "text": body.get("text"),
                    "type": "SMS",
                }
            }
        )

    async def _balance(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"errors": [{"code": "10009"}]}, status_code=401)
        return JSONResponse({"data": {"balance": "12.50", "currency": "USD"}})

    def signed(
        self, body: bytes, *, forge: bool = False, timestamp: int | None = None
    ) -> dict[str, str]:
        ts = str(timestamp or int(time.time()))
        key = Ed25519PrivateKey.generate() if forge else self._signing
        sig = base64.b64encode(key.sign(ts.encode() + b"|" + body)).decode()
        return {
            "telnyx-signature-ed25519": sig,
            "telnyx-timestamp": ts,
            "content-type": "application/json",
        }

    def event_body(self, message_id: str, event_type: str, status: str) -> bytes:
        return json.dumps(
            {
                "data": {
                    "event_type": event_type,
                    "id": str(uuid.uuid4()),
                    "record_type": "event",
                    "payload": {
                        "id": message_id,
                        "errors": [],
                        "to": [{"phone_number": "+15005550006", "status": status}],
                    },
                }
            }
        ).encode()

    def webhook(self, message_id: str, event_type: str, status: str, **kw: Any) -> httpx.Response:
        [sent] = [r for r in self.received if r.get("id") == message_id]
        body = self.event_body(message_id, event_type, status)
        return httpx.post(
            sent["webhook_url"], content=body, headers=self.signed(body, **kw), timeout=10
        )

    def start(self) -> FakeTelnyx:
        routes = [
            Route("/v2/messages", self._messages, methods=["POST"]),
            Route("/v2/balance", self._balance, methods=["GET"]),
        ]
        self._http = LoopbackServer(routes, "fake Telnyx")
        self.port = self._http.port
        self._http.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
