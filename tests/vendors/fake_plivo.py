"""A local fake of Plivo's Message API, served over real HTTP on loopback.

It implements the documented parts smsgate uses: ``POST /v1/Account/{auth_id}/Message/``
(JSON body, Basic auth, 202 with a ``message_uuid`` list; Plivo's ``{api_id, error}``
body on errors), ``GET /v1/Account/{auth_id}/``, and the status callback it sends to
``url``, signed with the V3 signature. The signature is computed here independently of
``smsgate.vendors.plivo``, so a mistake in one is not hidden by the same mistake in the
other. Tests queue faults (``fail_next``, ``hang_next``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.vendors.loopback import Faults, LoopbackServer

E164ISH = re.compile(r"^\+?[1-9]\d{6,14}$")


def v3_signature(token: str, url: str, form: dict[str, str], nonce: str) -> str:
    """Plivo's V3 signature of a POST callback with a form body (one value per name)."""
    parts = urlsplit(url)
    signed = f"{parts.scheme}://{parts.netloc}{parts.path}"
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    if query or form:
        signed += "?" + "&".join(f"{k}={v}" for k, v in query)
    if query and form:
        signed += "."
    signed += "".join(k + form[k] for k in sorted(form)) + "." + nonce
    mac = hmac.new(token.encode(), signed.encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class Received:
    auth_id: str
    body: dict[str, Any]
    headers: dict[str, str]
    message_uuid: str | None = None


@dataclass
class FakePlivo:
    auth_id: str = "MAFAKEPLIVOAUTHID001"
    auth_token: str = "fake-plivo-auth-token-0123456789"
    received: list[Received] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    port: int = 0
    _http: LoopbackServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, status: int, error: str, headers: dict[str, str] | None = None) -> None:
        self.faults.fail(status, {"api_id": str(uuid.uuid4()), "error": error}, headers)

    def hang_next(self, seconds: float) -> None:
        self.faults.hang(seconds)

    def _authorized(self, request: Request) -> bool:
        token = base64.b64encode(f"{self.auth_id}:{self.auth_token}".encode()).decode()
        return request.path_params["auth_id"] == self.auth_id and hmac.compare_digest(
            request.headers.get("authorization", ""), f"Basic {token}"
        )

    @staticmethod
    def _error(status: int, error: str) -> JSONResponse:
        return JSONResponse({"api_id": str(uuid.uuid4()), "error": error}, status_code=status)

    async def _message(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return self._error(400, "invalid JSON body")
        self.received.append(Received(request.path_params["auth_id"], body, dict(request.headers)))
        if (fault := await self.faults.next()) is not None:
            return fault
        if not self._authorized(request):
            return self._error(401, "authentication failed")
        if not (body.get("src") or body.get("powerpack_uuid")):
            return self._error(400, "src or powerpack_uuid is required")
        if not E164ISH.match(str(body.get("dst", ""))):
            return self._error(400, "invalid destination number")
        if not body.get("text"):
            return self._error(400, "text is required")
        if body.get("url") and body.get("method", "POST") not in ("GET", "POST"):
            return self._error(400, "method must be GET or POST")
        message_uuid = str(uuid.uuid4())
        self.received[-1].message_uuid = message_uuid
        return JSONResponse(
            {
                "api_id": str(uuid.uuid4()),
                "message": "message(s) queued",
                "message_uuid": [message_uuid],
            },
            status_code=202,
        )

    async def _account(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._error(401, "authentication failed")
        return JSONResponse(
            {
                "account_type": "standard",
                "auth_id": self.auth_id,
                "cash_credits": "12.34560",
                "name": "Fake account",
                "state": "active",
            }
        )

    def callback_form(
        self, message_uuid: str, status: str, error_code: str | None = None
    ) -> dict[str, str]:
        """The form Plivo posts about a message, as its status-callback docs list it."""
        [sent] = [r for r in self.received if r.message_uuid == message_uuid]
        return {
            "MessageUUID": message_uuid,
            "ParentMessageUUID": message_uuid,
            "To": str(sent.body["dst"]).lstrip("+"),
            "From": str(sent.body.get("src", "")).lstrip("+"),
            "Type": "sms",
            "Status": status,
            "ErrorCode": error_code or "",
            "Units": "1",
            "TotalRate": "0.00500",
            "TotalAmount": "0.00500",
            "MCC": "310",
            "MNC": "260",
            "PartInfo": "1 of 1",
            "Sequence": "1",
            "MessageTime": "2026-11-25 10:00:00.000000",
            "PowerpackUUID": "",
        }

    def signed_headers(
        self, url: str, form: dict[str, str], *, forge: bool = False
    ) -> dict[str, str]:
        nonce = str(secrets.randbelow(10**20))
        token = "not-the-token" if forge else self.auth_token
        return {
            "X-Plivo-Signature-V3": v3_signature(token, url, form, nonce),
            "X-Plivo-Signature-V3-Nonce": nonce,
        }

    def status_callback(
        self, message_uuid: str, status: str, error_code: str | None = None, *, forge: bool = False
    ) -> httpx.Response:
        """POST the signed status callback Plivo would send for ``message_uuid``."""
        [sent] = [r for r in self.received if r.message_uuid == message_uuid]
        url = str(sent.body["url"])
        form = self.callback_form(message_uuid, status, error_code)
        return httpx.post(
            url, data=form, headers=self.signed_headers(url, form, forge=forge), timeout=10
        )

    def start(self) -> FakePlivo:
        routes = [
            Route("/v1/Account/{auth_id}/Message/", self._message, methods=["POST"]),
            Route("/v1/Account/{auth_id}/", self._account, methods=["GET"]),
        ]
        self._http = LoopbackServer(routes, "fake Plivo")
        self.port = self._http.port
        self._http.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
