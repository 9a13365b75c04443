"""PostgreSQL LISTEN/NOTIFY: a send committed by one process wakes another's dispatcher."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from smsgate.db.notify import asyncpg_connect_args
from smsgate.gateway import Gateway
from tests.conftest import PG_URL, fast_settings, serving, wait_for_state

needs_postgres = pytest.mark.skipif(not PG_URL, reason="LISTEN/NOTIFY is PostgreSQL's; CI sets it")


@pytest.mark.anyio
@needs_postgres
async def test_a_send_in_one_process_wakes_the_dispatcher_of_another(
    db_url: str, tmp_path: Path
) -> None:
    """The dispatching gateway polls only every 30 s when idle, so delivery within
    seconds means the notification woke it; and it still does after its listening
    connection was killed."""
    sender = Gateway.build(fast_settings(db_url, tmp_path / "a"))
    worker = Gateway.build(fast_settings(db_url, tmp_path / "b", dispatch_idle_interval=30.0))
    try:
        worker.start_background()
        async with serving(sender, background=False) as (c, tenant):

            async def send_and_wait(body: str) -> None:
                await asyncio.sleep(0.3)  # the worker is idle on its 30 s poll
                r = await c.post(
                    "/v1/sms/send",
                    json={"to": "+15005550006", "body": body},
                    headers=tenant.headers,
                )
                assert r.status_code == 200, r.text
                await wait_for_state(c, tenant, r.json()["sms_id"], {"delivered"}, timeout=5)

            await send_and_wait("first")
            async with sender.db.session() as s:
                killed = await s.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                    )
                )
            assert killed == 1
            await asyncio.sleep(1.0)  # the listener reconnects after its backoff
            await send_and_wait("after the listener's connection was killed")
    finally:
        await worker.aclose()


def test_connect_args_keep_only_what_asyncpg_understands() -> None:
    url = "postgresql+asyncpg://u:p@db:6543/gw?prepared_statement_cache_size=0&ssl=require"
    assert asyncpg_connect_args(url) == {
        "host": "db",
        "port": 6543,
        "user": "u",
        "password": "p",
        "database": "gw",
        "ssl": "require",
    }
