"""GroupCommit on the real database: concurrent callers share transactions, errors reach all."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.accounts.service import create_project
from smsgate.app import create_app
from smsgate.db.engine import Database
from smsgate.db.group_commit import GroupCommit
from smsgate.db.models import Project
from smsgate.gateway import Gateway
from tests.conftest import fast_settings, make_tenant, wait_for_state

pytestmark = pytest.mark.anyio


async def test_concurrent_items_share_transactions(db_url: str) -> None:
    db = Database(db_url)
    batches: list[int] = []

    async def write(session: AsyncSession, names: Sequence[str]) -> list[str]:
        batches.append(len(names))
        return [(await create_project(session, n)).id for n in names]

    group: GroupCommit[str, str] = GroupCommit(db, write)
    try:
        ids = await asyncio.gather(*(group.submit(f"p{i}") for i in range(50)))
        assert len(set(ids)) == 50 and sum(batches) == 50
        assert len(batches) < 50  # items that arrived during a write went together
        async with db.reader() as s:
            names = set(await s.scalars(select(Project.name)))
        assert names == {f"p{i}" for i in range(50)}
    finally:
        await db.dispose()


async def test_a_failed_batch_fails_its_callers_and_commits_nothing(db_url: str) -> None:
    db = Database(db_url)

    async def write(session: AsyncSession, names: Sequence[str]) -> list[str]:
        for n in names:
            await create_project(session, n)
        raise RuntimeError("boom")

    group: GroupCommit[str, str] = GroupCommit(db, write)
    try:
        results = await asyncio.gather(
            *(group.submit(f"p{i}") for i in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, RuntimeError) for r in results)
        async with db.reader() as s:
            assert await s.scalar(select(func.count()).select_from(Project)) == 0
    finally:
        await db.dispose()


async def test_a_send_wakes_the_dispatcher(db_url: str, tmp_path: Path) -> None:
    """With a 30 s idle poll, a message is still delivered at once: the commit wakes it."""
    gw = Gateway.build(fast_settings(db_url, tmp_path / "d", dispatch_idle_interval=30.0))
    app = create_app(gateway=gw, background=True)
    try:
        async with app.router.lifespan_context(app):
            await asyncio.sleep(0.2)  # let the dispatcher fall asleep on its idle poll
            tenant = await make_tenant(gw.db)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                r = await c.post(
                    "/v1/sms/send", json={"to": "+15005550006", "body": "x"}, headers=tenant.headers
                )
                await wait_for_state(c, tenant, r.json()["sms_id"], {"delivered"}, timeout=3)
    finally:
        await gw.aclose()
