"""Crash and concurrency: nothing accepted is lost, nothing is sent twice."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from smsgate.db.engine import Database
from smsgate.db.models import DispatchAttempt, Message, SandboxMessage
from smsgate.messages import states
from tests.e2e.server import Proc, printed_key, serve

pytestmark = pytest.mark.slow


async def _final_count(db_url: str) -> tuple[int, int]:
    db = Database(db_url, pool_size=1)
    try:
        async with db.reader() as s:
            total = await s.scalar(select(func.count()).select_from(Message))
            final = await s.scalar(select(func.count()).where(Message.state.in_(states.FINAL)))
        return int(total or 0), int(final or 0)
    finally:
        await db.dispose()


def wait_all_final(db_url: str, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        total, final = asyncio.run(_final_count(db_url))
        assert total == expected
        if final == expected:
            return
        assert time.monotonic() < deadline, f"{final}/{expected} final after {timeout}s"
        time.sleep(0.25)


async def _sandbox_stats(db_url: str) -> dict[str, int]:
    db = Database(db_url, pool_size=1)
    try:
        async with db.reader() as s:
            rows = (
                await s.execute(select(SandboxMessage.sms_id, SandboxMessage.submit_count))
            ).all()
            submitted = (
                await s.execute(
                    select(DispatchAttempt.sms_id, func.count())
                    .where(DispatchAttempt.outcome == "submitted")
                    .group_by(DispatchAttempt.sms_id)
                )
            ).all()
            workers = {
                w.rsplit(":", 1)[0]
                for w in await s.scalars(select(DispatchAttempt.worker).distinct())
            }
            delivered = await s.scalar(
                select(func.count()).where(Message.state == states.DELIVERED)
            )
        return {
            "inbox": len(rows),
            "distinct": len({r.sms_id for r in rows}),
            "resubmitted": sum(r.submit_count - 1 for r in rows),
            "max_submitted_attempts": max((n for _, n in submitted), default=0),
            "delivered": int(delivered or 0),
            "processes": len(workers),
        }
    finally:
        await db.dispose()


def test_kill_9_loses_nothing_and_sends_nothing_twice(tmp_path: Path, db_url: str) -> None:
    from smsgate import Client

    proc, url = serve(tmp_path, db_url)
    key = printed_key(proc)
    ids: list[str] = []
    try:
        with Client(base_url=url, api_key=key) as client:
            for i in range(200):
                ids.append(client.sms.send(to="+15005550006", body=f"message {i}").sms_id)
    finally:
        proc.kill9()  # right after the 200th answer
    total, final = asyncio.run(_final_count(db_url))
    assert total == 200
    proc2, _ = serve(tmp_path, db_url, port=int(url.rsplit(":", 1)[1]))
    try:
        wait_all_final(db_url, 200, timeout=60)
    finally:
        proc2.stop()
    stats = asyncio.run(_sandbox_stats(db_url))
    assert stats["delivered"] == 200
    # Every simulated phone got its message exactly once.
    assert stats["inbox"] == stats["distinct"] == 200
    print(f"final before restart: {final}/200; resubmissions absorbed: {stats['resubmitted']}")


@pytest.mark.skipif(
    not os.environ.get("SMSGATE_TEST_DATABASE_URL"), reason="needs PostgreSQL (CI sets it)"
)
def test_two_dispatcher_processes_send_each_message_once(tmp_path: Path, db_url: str) -> None:
    proc, url = serve(tmp_path, db_url, "--no-dispatch")
    key = printed_key(proc)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
            for b in range(20):
                batch = [{"to": "+15005550006", "body": f"m {b}-{i}"} for i in range(100)]
                r = c.post("/v1/sms/batch/send", json={"messages": batch}, timeout=30)
                assert r.status_code == 200 and all(x["ok"] for x in r.json()["results"])
    finally:
        proc.stop()
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    workers = [
        Proc(
            ["dispatch", "--database-url", db_url, "--workers", "2"],
            env,
            tmp_path / f"dispatch-{n}.log",
        )
        for n in range(2)
    ]
    try:
        wait_all_final(db_url, 2000, timeout=120)
    finally:
        for w in workers:
            w.stop()
    stats = asyncio.run(_sandbox_stats(db_url))
    assert stats == {
        "inbox": 2000,
        "distinct": 2000,
        "resubmitted": 0,
        "max_submitted_attempts": 1,
        "delivered": 2000,
        "processes": 2,
    }
    logs = [w.output() for w in workers]
    assert all("dispatcher running" in log for log in logs)
