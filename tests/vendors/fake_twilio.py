"""A local fake of Twilio's Messages API, served over real HTTP on loopback.

It implements the documented parts smsgate uses: ``POST /2010-04-01/Accounts/{sid}/
Messages.json`` (form body, Basic auth, 201 with a ``sid``; Twilio's JSON error body
``{code, message, more_info, status}`` on errors) and the signed status callback it
POSTs to ``StatusCallback``. Tests queue faults (``fail_next``, ``hang_next``).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smsgate.vendors.twilio import signature
from tests.vendors.loopback import Faults, LoopbackServer


@dataclass
class Received:
    account_sid: str
    form: dict[str, str]
    headers: dict[str, str]
    sid: str | None = None


@dataclass
class FakeTwilio:
    account_sid: str = "AC" + "0" * 32
    auth_token: str = "fake-twilio-auth-token-0123456789"
    received: list[Received] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    down: bool = False
    """While True every send answers 503 (an outage)."""
    port: int = 0
    _http: LoopbackServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(
        self, status: int, code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        self.faults.fail(status, body, headers)

    def hang_next(self, seconds: float) -> None:
        self.faults.hang(seconds)

    async def _messages(self, request: Request) -> Response:
        sid = request.path_params["sid"]
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        self.received.append(Received(sid, form, dict(request.headers)))
        if self.down:
            return JSONResponse(
                {"code": 20500, "message": "Internal Server Error", "status": 503}, status_code=503
            )
        if (fault := await self.faults.next()) is not None:
            return fault
        expected = (
            "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        )
        if sid != self.account_sid or request.headers.get("authorization") != expected:
            return JSONResponse(
                {"code": 20003, "message": "Authenticate", "status": 401}, status_code=401
            )
        to = form.get("To", "")
        if not to.startswith("+") or not to[1:].isdigit():
            return JSONResponse(
                {
                    "code": 21211,
                    "message": f"The 'To' number {to} is not a valid phone number.",
                    "status": 400,
                },
                status_code=400,
            )
        if "Body" not in form or not ("From" in form or "MessagingServiceSid" in form):
            return JSONResponse(
                {"code": 21604, "message": "A 'From' phone number is required.", "status": 400},
                status_code=400,
            )
        message_sid = "SM" + secrets.token_hex(16)
        self.received[-1].sid = message_sid
        return JSONResponse(
            {
                "sid": message_sid,
                "account_sid": sid,
                "to": to,
                "from": form.get("From"),
                "body": form["Body"],
                "status": "queued",
                "num_segments": "1",
                "error_code": None,
                "error_message": None,
            },
            status_code=201,
        )

    async def _account(self, request: Request) -> Response:
        expected = (
            "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        )
        if request.headers.get("authorization") != expected:
            return JSONResponse(
                {"code": 20003, "message": "Authenticate", "status": 401}, status_code=401
            )
        return JSONResponse(
            {"sid": self.account_sid, "friendly_name": "Fake account", "status": "active"}
        )

    def status_callback(
        self, sid: str, status: str, error_code: str | None = None, *, forge: bool = False
    ) -> httpx.Response:
        """POST the signed status callback Twilio would send for message ``sid``."""
        [sent] = [r for r in self.received if r.sid == sid]
        url = sent.form["StatusCallback"]
        form = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.account_sid,
            "To": sent.form["To"],
            "From": sent.form.get("From", ""),
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            form["ErrorCode"] = error_code
        token = "not-the-token" if forge else self.auth_token
        sig = signature(token, url, list(form.items()))
        return httpx.post(url, data=form, headers={"X-Twilio-Signature": sig}, timeout=10)

    def incoming_message(
        self, url: str, from_: str, to: str, body: str, sid: str, *, forge: bool = False
    ) -> httpx.Response:
        """POST the signed webhook Twilio sends when a phone writes to one of our numbers
        (the number's "A message comes in" URL, here ``url``)."""
        form = {
            "ToCountry": "US",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": body,
            "To": to,
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": "2010-04-01",
        }
        token = "not-the-token" if forge else self.auth_token
        sig = signature(token, url, list(form.items()))
        return httpx.post(url, data=form, headers={"X-Twilio-Signature": sig}, timeout=10)

    def start(self) -> FakeTwilio:
        routes = [
            Route("/2010-04-01/Accounts/{sid}/Messages.json", self._messages, methods=["POST"]),
            Route("/2010-04-01/Accounts/{sid}.json", self._account, methods=["GET"]),
        ]
        self._http = LoopbackServer(routes, "fake Twilio")
        self.port = self._http.port
        self._http.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
