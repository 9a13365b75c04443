"""A gateway whose default vendor is an SMPP bind to the independent SMSC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from smsgate.app import create_app
from smsgate.db.models import Message
from smsgate.gateway import Gateway
from tests.conftest import Tenant, fast_settings, make_tenant
from tests.smpp.independent import IndependentSmsc


@dataclass
class SmppGateway:
    gateway: Gateway
    client: httpx.AsyncClient
    tenant: Tenant

    async def send_many(self, bodies: list[str], to: str = "+447911123456") -> list[str]:
        """Send through ``/v1/sms/batch/send``, 100 per request, 4 requests at a time."""
        ids: list[str] = []
        chunks = [bodies[i : i + 100] for i in range(0, len(bodies), 100)]
        limit = asyncio.Semaphore(4)

        async def one(chunk: list[str]) -> list[str]:
            async with limit:
                r = await self.client.post(
                    "/v1/sms/batch/send",
                    json={"messages": [{"to": to, "body": b} for b in chunk]},
                    headers=self.tenant.headers,
                )
            assert r.status_code == 200, r.text
            return [item["sms"]["sms_id"] for item in r.json()["results"]]

        for result in await asyncio.gather(*(one(c) for c in chunks)):
            ids.extend(result)
        return ids

    async def states(self) -> dict[str, int]:
        async with self.gateway.db.reader() as session:
            rows = await session.execute(
                select(Message.state, func.count()).group_by(Message.state)
            )
            return {state: n for state, n in rows.all()}

    async def wait_all(self, state: str, count: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (states := await self.states()).get(state, 0) < count:
            assert loop.time() < deadline, f"wanted {count} {state}, have {states}"
            await asyncio.sleep(0.1)


def smpp_toml(port: int, **options: Any) -> str:
    values: dict[str, Any] = {
        "type": "smpp",
        "host": "127.0.0.1",
        "port": port,
        "system_id": "smsgate",
        "password": "secret",
        "source_addr": "+15550001111",
        "reconnect_min": 0.05,
        "reconnect_max": 0.3,
        "throttle_pause": 0.05,
    }
    values.update(options)
    lines = ['default_vendor = "smsc1"', "", "[vendors.smsc1]"]
    for key, value in values.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, str):
            lines.append(f'{key} = "{value}"')
        else:
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


@asynccontextmanager
async def smpp_gateway(
    db_url: str, tmp_path: Path, smsc: IndependentSmsc, **options: Any
) -> AsyncIterator[SmppGateway]:
    config = tmp_path / "smsgate.toml"
    config.write_text(smpp_toml(smsc.port, **options))
    settings = fast_settings(
        db_url,
        tmp_path / "data",
        config_file=config,
        vendor_timeout_seconds=15.0,
        dispatch_batch_size=200,
        dispatch_concurrency=200,
        retry_base_seconds=0.05,
        retry_max_seconds=0.2,
        max_attempts=20,
    )
    gw = Gateway.build(settings)
    app = create_app(gateway=gw, background=True)
    try:
        async with app.router.lifespan_context(app):
            tenant = await make_tenant(gw.db)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://smsgate.test", timeout=60
            ) as client:
                yield SmppGateway(gw, client, tenant)
    finally:
        await gw.aclose()
