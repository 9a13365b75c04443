"""A local fake of a Kannel-style HTTP gateway: ``GET /cgi-bin/sendsms`` answering
``0: Accepted for delivery`` (202), and a DLR callback to ``dlr-url``."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.vendors.loopback import Faults, LoopbackServer


@dataclass
class FakeKannel:
    username: str = "tester"
    password: str = "fake-kannel-password-0123456789"
    received: list[dict[str, str]] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    port: int = 0
    _http: LoopbackServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        self.faults.fail(status, text, headers)

    def hang_next(self, seconds: float) -> None:
        self.faults.hang(seconds)

    async def _sendsms(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.received.append(query)
        if (fault := await self.faults.next()) is not None:
            return fault
        if query.get("username") != self.username or query.get("password") != self.password:
            return PlainTextResponse("Authorization failed for sendsms", status_code=403)
        if not query.get("to", "").isdigit():
            return PlainTextResponse("Invalid receiver", status_code=400)
        return PlainTextResponse("0: Accepted for delivery", status_code=202)

    def dlr(self, sms_id: str, status: str) -> httpx.Response:
        """Kannel calls the dlr-url it was given (here with id and status appended)."""
        [sent] = [r for r in self.received if r.get("sms_id") == sms_id]
        return httpx.post(sent["dlr-url"] + f"&id={sms_id}&status={status}", timeout=10)

    def start(self) -> FakeKannel:
        self._http = LoopbackServer([Route("/cgi-bin/sendsms", self._sendsms)], "fake Kannel")
        self.port = self._http.port
        self._http.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
