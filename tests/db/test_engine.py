"""Engine settings that matter beyond speed."""

from __future__ import annotations

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from smsgate.accounts.service import create_project
from smsgate.db.engine import Database
from smsgate.db.models import Project

pytestmark = pytest.mark.anyio


async def test_a_failed_statement_does_not_carry_its_values(db_url: str) -> None:
    """Database errors end up in logs: they name the SQL, never the values bound to it."""
    db = Database(db_url)
    try:
        async with db.session() as s:
            project = await create_project(s, "p")
        with pytest.raises(IntegrityError) as failed:
            async with db.session() as s:
                await s.execute(
                    insert(Project).values(id=project.id, name="secret-text-1234", created_at=None)
                )
        assert "secret-text-1234" not in str(failed.value)
        assert "INSERT INTO projects" in str(failed.value)
    finally:
        await db.dispose()
