"""GroupCommit on the real database: concurrent callers share transactions, errors reach all."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.accounts.service import create_project
from smsgate.db.engine import Database
from smsgate.db.group_commit import GroupCommit
from smsgate.db.models import Message, Project
from smsgate.gateway import Gateway
from tests.conftest import fast_settings, serving, wait_for_state

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
    async with serving(gw) as (c, tenant):
        await asyncio.sleep(0.2)  # let the dispatcher fall asleep on its idle poll
        r = await c.post(
            "/v1/sms/send", json={"to": "+15005550006", "body": "x"}, headers=tenant.headers
        )
        await wait_for_state(c, tenant, r.json()["sms_id"], {"delivered"}, timeout=3)


async def test_one_bad_item_fails_only_its_caller(db_url: str) -> None:
    """A shared transaction that fails is retried item by item: the rest still commit."""
    db = Database(db_url)
    sizes: list[int] = []

    async def write(session: AsyncSession, names: Sequence[str]) -> list[str]:
        sizes.append(len(names))
        ids = [(await create_project(session, n)).id for n in names]
        if "bad" in names:
            raise ValueError("bad item")
        return ids

    group: GroupCommit[str, str] = GroupCommit(db, write)
    try:
        names = [f"p{i}" for i in range(10)]
        names.insert(5, "bad")
        results = await asyncio.gather(*(group.submit(n) for n in names), return_exceptions=True)
        failed = [n for n, r in zip(names, results, strict=True) if isinstance(r, Exception)]
        assert failed == ["bad"]
        assert max(sizes) > 1  # the items did share a transaction first
        async with db.reader() as s:
            stored = set(await s.scalars(select(Project.name)))
        assert stored == {f"p{i}" for i in range(10)}
    finally:
        await db.dispose()


async def test_concurrent_api_sends_share_transactions(db_url: str, tmp_path: Path) -> None:
    """Sends without an idempotency key go through one group commit: each caller gets
    its own stored message, and concurrent ones took fewer transactions than sends."""
    gw = Gateway.build(fast_settings(db_url, tmp_path / "d"))
    sizes: list[int] = []
    write = gw.sends._write

    async def counting(session: AsyncSession, rows: Sequence[dict[str, object]]) -> list[Message]:
        sizes.append(len(rows))
        return list(await write(session, rows))

    gw.sends._write = counting
    async with serving(gw, background=False) as (c, tenant):
        answers = await asyncio.gather(
            *(
                c.post(
                    "/v1/sms/send",
                    json={"to": f"+1500555{i:04d}", "body": f"m{i}"},
                    headers=tenant.headers,
                )
                for i in range(40)
            )
        )
        assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
        ids = {r.json()["sms_id"] for r in answers}
        assert len(ids) == 40 and sum(sizes) == 40 and len(sizes) < 40
        async with gw.db.reader() as s:
            stored = {i: b for i, b in await s.execute(select(Message.id, Message.body))}
        assert {stored[r.json()["sms_id"]] for r in answers} == {f"m{i}" for i in range(40)}


async def test_a_database_outage_fails_the_batch_at_once() -> None:
    """When the database itself fails, the items are not retried one by one (each would
    fail the same way, one connect timeout after another)."""
    db = Database("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    calls: list[int] = []

    async def write(session: AsyncSession, names: Sequence[str]) -> list[str]:
        calls.append(len(names))
        await session.execute(text("SELECT 1"))
        return list(names)

    group: GroupCommit[str, str] = GroupCommit(db, write)
    try:
        results = await asyncio.gather(
            *(group.submit(f"p{i}") for i in range(8)), return_exceptions=True
        )
        assert all(isinstance(r, Exception) for r in results)
        assert sum(calls) == 8, calls  # each item was in exactly one attempt
    finally:
        await db.dispose()


async def test_concurrent_keyed_sends_share_transactions_and_stay_idempotent(
    db_url: str, tmp_path: Path
) -> None:
    """Sends with idempotency keys are group-committed too (the reservation and the
    message with its answer): distinct keys each make one message; five concurrent
    requests with one key make exactly one, the rest are told it is in progress or get
    its answer replayed."""
    gw = Gateway.build(fast_settings(db_url, tmp_path / "d"))
    sizes: list[int] = []
    write = gw.keyed_sends._write

    async def counting(session: AsyncSession, items: Sequence[Any]) -> Sequence[Any]:
        sizes.append(len(items))
        return await write(session, items)

    gw.keyed_sends._write = counting
    async with serving(gw, background=False) as (c, tenant):

        async def send(key: str, body: str) -> httpx.Response:
            return await c.post(
                "/v1/sms/send",
                json={"to": "+15005550006", "body": body},
                headers={**tenant.headers, "Idempotency-Key": key},
            )

        distinct = await asyncio.gather(*(send(f"k{i}", f"m{i}") for i in range(30)))
        assert all(r.status_code == 200 for r in distinct), [r.text for r in distinct]
        assert len({r.json()["sms_id"] for r in distinct}) == 30
        assert len(sizes) < 30  # shared transactions
        same = await asyncio.gather(*(send("same", "once") for _ in range(5)))
        ok = [r for r in same if r.status_code == 200]
        assert ok and {r.json()["sms_id"] for r in ok} == {ok[0].json()["sms_id"]}
        assert all(r.status_code in (200, 409) for r in same), [r.text for r in same]
        replay = await send("same", "once")
        assert replay.headers.get("idempotent-replayed") == "true"
        assert replay.json()["sms_id"] == ok[0].json()["sms_id"]
        async with gw.db.reader() as s:
            bodies = list(await s.scalars(select(Message.body)))
        assert sorted(bodies) == sorted([f"m{i}" for i in range(30)] + ["once"])
