"""Serve a Starlette app over real HTTP on a free loopback port, in a thread (for fakes)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.e2e.server import free_port


class LoopbackServer:
    def __init__(self, routes: list[Route], label: str) -> None:
        self.port = free_port()
        self.label = label
        config = uvicorn.Config(
            Starlette(routes=routes),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, f"{self.label} did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


class Faults:
    """Answers queued for a fake's next requests: an error answer, or a hang."""

    def __init__(self) -> None:
        self._queue: list[tuple[int, Any, dict[str, str]] | float] = []

    def fail(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """The next request gets ``body`` (JSON unless a str) with ``status``."""
        self._queue.append((status, body, headers or {}))

    def hang(self, seconds: float) -> None:
        self._queue.append(seconds)

    async def next(self) -> Response | None:
        """The queued answer for this request, if any (after sleeping, for a hang)."""
        if not self._queue:
            return None
        fault = self._queue.pop(0)
        if isinstance(fault, float):
            await asyncio.sleep(fault)
            return None
        status, body, headers = fault
        if isinstance(body, str):
            return PlainTextResponse(body, status_code=status, headers=headers)
        return JSONResponse(body, status_code=status, headers=headers)
