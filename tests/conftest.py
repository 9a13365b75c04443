"""Fixtures: a real database per test (SQLite file, or PostgreSQL when
``SMSGATE_TEST_DATABASE_URL`` is set), a gateway, and an HTTP client on its app."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from smsgate.accounts.keys import PERMISSIONS
from smsgate.accounts.service import create_key, create_project
from smsgate.app import create_app
from smsgate.config import Settings
from smsgate.db.engine import Database, create_engine
from smsgate.db.migrate import upgrade
from smsgate.db.models import Base
from smsgate.gateway import Gateway

PG_URL = os.environ.get("SMSGATE_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("SMSGATE_") and name != "SMSGATE_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


async def _migrate(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[str | None]:
    """A throw-away PostgreSQL database for this test session, migrated once."""
    if not PG_URL:
        yield None
        return
    base = make_url(PG_URL)
    name = f"smsgate_t_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        engine = create_engine(base.render_as_string(hide_password=False), pool_size=1)
        try:
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    asyncio.run(_migrate(url))
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "smsgate.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def db_url(_pg_database: str | None, _sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated, empty database for one test."""
    if _pg_database:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)

        async def truncate() -> None:
            engine = create_engine(_pg_database, pool_size=1)
            try:
                async with engine.begin() as conn:
                    await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            finally:
                await engine.dispose()

        asyncio.run(truncate())
        return _pg_database
    path = tmp_path / "smsgate.db"
    shutil.copy(_sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def fast_settings(db_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": data_dir,
        "simulator_receipt_delay": 0.05,
        "simulator_timeout_sleep": 5.0,
        "vendor_timeout_seconds": 0.5,
        "dispatch_poll_interval": 0.01,
        "dispatch_idle_interval": 0.02,
        "retry_base_seconds": 0.02,
        "retry_max_seconds": 0.1,
        "lease_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return fast_settings(db_url, tmp_path / "data")


@dataclass
class Tenant:
    project_id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def make_tenant(
    db: Database, permissions: tuple[str, ...] = PERMISSIONS, name: str = "test"
) -> Tenant:
    async with db.session() as session:
        project = await create_project(session, name)
        created = await create_key(session, project.id, "test key", permissions)
    return Tenant(project.id, created.secret)


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    gw = Gateway.build(settings)
    try:
        yield gw
    finally:
        await gw.aclose()


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app, with the dispatcher and simulator running."""
    app = create_app(gateway=gateway, background=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://smsgate.test") as c:
            yield c


@asynccontextmanager
async def serving(
    gw: Gateway, *, background: bool = True
) -> AsyncIterator[tuple[httpx.AsyncClient, Tenant]]:
    """``gw``'s app running (with its dispatcher and simulator when ``background``), an
    HTTP client on it and a fresh tenant; ``gw`` is closed at the end."""
    app = create_app(gateway=gw, background=background)
    try:
        async with app.router.lifespan_context(app):
            tenant = await make_tenant(gw.db)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                yield c, tenant
    finally:
        await gw.aclose()


@pytest.fixture
async def tenant(gateway: Gateway) -> Tenant:
    return await make_tenant(gateway.db)


@pytest.fixture
async def other_tenant(gateway: Gateway) -> Tenant:
    return await make_tenant(gateway.db, name="other")


async def wait_for_state(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sms_id: str,
    states: set[str],
    timeout: float = 10.0,
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        r = await client.get(f"/v1/sms/status/{sms_id}", headers=tenant.headers)
        assert r.status_code == 200, r.text
        record: dict[str, Any] = r.json()
        if record["state"] in states:
            return record
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{sms_id} stuck in {record['state']}, wanted {states}")
        await asyncio.sleep(0.02)
