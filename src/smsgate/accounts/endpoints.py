"""Account routes: who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from smsgate.accounts import repository
from smsgate.accounts.auth import AuthContext, authenticate
from smsgate.api.deps import gateway
from smsgate.gateway import Gateway

router = APIRouter(prefix="/v1/account", tags=["account"])


class AccountMe(BaseModel):
    project_id: str
    project_name: str
    key_id: str
    permissions: list[str]


@router.get("/me", response_model=AccountMe)
async def me(
    auth: Annotated[AuthContext, Depends(authenticate)],
    gw: Annotated[Gateway, Depends(gateway)],
) -> AccountMe:
    async with gw.db.reader() as session:
        project = await repository.get_project(session, auth.project_id)
    return AccountMe(
        project_id=auth.project_id,
        project_name=project.name if project else "",
        key_id=auth.key_id,
        permissions=sorted(auth.permissions),
    )
