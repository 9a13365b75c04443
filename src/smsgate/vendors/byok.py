"""Bring your own key: a project's own vendor credentials.

A project stores an upstream account of a supported type under a name of its own;
messages it pins to that name go out with its credentials. The secret fields are
sealed with the server key (bound to project and name) and never returned; the API
shows which fields are secret, not their values. Environment references are not
allowed here (they would read the server's environment). Callbacks for a project's
vendor come to ``/hooks/p/{project_id}/{name}/status``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.config import Settings
from smsgate.db.engine import Database, upsert_insert
from smsgate.db.models import ProjectVendor
from smsgate.errors import NotFound, Unprocessable
from smsgate.keyring import Keyring
from smsgate.vendors import config as vendor_config
from smsgate.vendors.base import Vendor

CACHE_SECONDS = 30.0


def hook_url(settings: Settings, project_id: str, name: str) -> str:
    return f"{settings.resolved_public_url()}/hooks/p/{project_id}/{name}/status"


def _context(project_id: str, name: str) -> str:
    return f"byok:{project_id}:{name}"


def split_config(kind: str, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate a vendor config and split it into (public settings, secrets)."""
    if kind not in vendor_config.CONFIG_MODELS:
        raise Unprocessable(
            f"Unknown vendor type {kind!r}; known: {', '.join(vendor_config.CONFIG_MODELS)}.",
            code="invalid_parameter",
            param="type",
        )
    secret_names = vendor_config.secret_fields(kind)
    for field_name in secret_names:
        value = config.get(field_name)
        if value is not None and not isinstance(value, str):
            raise Unprocessable(
                f"{field_name} must be a string (environment references are for smsgate.toml).",
                code="invalid_parameter",
                param=f"config.{field_name}",
            )
    try:
        vendor_config.CONFIG_MODELS[kind].model_validate({**config, "type": kind})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Unprocessable(
            f"config.{where}: {first['msg']}.", code="invalid_parameter", param=f"config.{where}"
        ) from None
    secrets_ = {k: v for k, v in config.items() if k in secret_names and v is not None}
    public = {k: v for k, v in config.items() if k not in secret_names and k != "type"}
    return public, secrets_


async def save(
    session: AsyncSession,
    keys: Keyring,
    project_id: str,
    name: str,
    kind: str,
    config: dict[str, Any],
    now: datetime,
) -> ProjectVendor:
    public, secrets_ = split_config(kind, config)
    sealed = keys.seal(json.dumps(secrets_), _context(project_id, name))
    values = {
        "type": kind,
        "settings": public,
        "sealed_secrets": sealed,
        "secret_fields": sorted(secrets_),
        "updated_at": now,
    }
    insert = upsert_insert(session)
    await session.execute(
        insert(ProjectVendor)
        .values(project_id=project_id, name=name, created_at=now, **values)
        .on_conflict_do_update(index_elements=["project_id", "name"], set_=values)
    )
    row = await get_row(session, project_id, name)
    assert row is not None
    return row


async def get_row(session: AsyncSession, project_id: str, name: str) -> ProjectVendor | None:
    return await session.scalar(
        select(ProjectVendor)
        .where(ProjectVendor.project_id == project_id, ProjectVendor.name == name)
        .execution_options(populate_existing=True)
    )


async def list_rows(session: AsyncSession, project_id: str) -> list[ProjectVendor]:
    return list(
        await session.scalars(
            select(ProjectVendor)
            .where(ProjectVendor.project_id == project_id)
            .order_by(ProjectVendor.name)
        )
    )


async def names(session: AsyncSession, project_id: str) -> set[str]:
    return set(
        await session.scalars(
            select(ProjectVendor.name).where(ProjectVendor.project_id == project_id)
        )
    )


async def remove(session: AsyncSession, project_id: str, name: str) -> None:
    result = await session.execute(
        delete(ProjectVendor)
        .where(ProjectVendor.project_id == project_id, ProjectVendor.name == name)
        .returning(ProjectVendor.name)
    )
    if result.first() is None:
        raise NotFound(f"No vendor {name} in this project.", param="name")


@dataclass
class _Cached:
    vendor: Vendor
    updated_at: datetime
    loaded: float


class ProjectVendors:
    """Builds (and caches for a short while) the vendor objects of project-owned accounts."""

    def __init__(self, db: Database, keys: Keyring, settings: Settings) -> None:
        self.db = db
        self.keys = keys
        self.settings = settings
        self._cache: dict[tuple[str, str], _Cached] = {}
        self._lock = asyncio.Lock()

    async def get(self, project_id: str, name: str) -> Vendor | None:
        key = (project_id, name)
        cached = self._cache.get(key)
        if cached and time.monotonic() - cached.loaded < CACHE_SECONDS:
            return cached.vendor
        async with self._lock:
            async with self.db.reader() as session:
                row = await get_row(session, project_id, name)
            if row is None:
                await self.forget(project_id, name)
                return None
            if cached and cached.updated_at == row.updated_at:
                cached.loaded = time.monotonic()
                return cached.vendor
            secrets_ = json.loads(self.keys.unseal(row.sealed_secrets, _context(project_id, name)))
            raw = {**row.settings, **secrets_, "type": row.type}
            vendor = vendor_config.build(
                row.type, name, raw, self.settings, hook_url(self.settings, project_id, name)
            )
            await self.forget(project_id, name)
            self._cache[key] = _Cached(vendor, row.updated_at, time.monotonic())
            return vendor

    async def forget(self, project_id: str, name: str) -> None:
        old = self._cache.pop((project_id, name), None)
        if old is not None:
            await old.vendor.aclose()

    async def aclose(self) -> None:
        for cached in self._cache.values():
            await cached.vendor.aclose()
        self._cache.clear()
