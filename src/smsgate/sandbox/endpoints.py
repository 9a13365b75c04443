"""The simulated phones' inbox: what the built-in carrier delivered, as a phone would read it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from smsgate.accounts.auth import AuthContext, require
from smsgate.api.deps import gateway
from smsgate.errors import Unprocessable
from smsgate.gateway import Gateway
from smsgate.messages.schemas import iso
from smsgate.pagination import PageParams, encode_cursor, page_params
from smsgate.phone import parse_phone
from smsgate.sandbox import repository

router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"])


class SandboxMessageOut(BaseModel):
    id: str
    sms_id: str
    to: str
    from_: str | None = Field(alias="from")
    body: str
    received_at: str

    model_config = ConfigDict(populate_by_name=True)


class SandboxPage(BaseModel):
    items: list[SandboxMessageOut]
    next_cursor: str | None


@router.get("/messages", response_model=SandboxPage, summary="sandbox inbox")
async def messages(
    auth: Annotated[AuthContext, Depends(require("sms:read"))],
    gw: Annotated[Gateway, Depends(gateway)],
    page: Annotated[PageParams, Depends(page_params)],
    to: Annotated[str | None, Query(max_length=64)] = None,
) -> SandboxPage:
    if page.after is not None and not page.after.isdigit():
        raise Unprocessable("The cursor is not valid.", code="invalid_cursor", param="cursor")
    number = parse_phone(to, param="to").e164 if to else None
    async with gw.db.reader() as session:
        rows = await repository.inbox(
            session,
            auth.project_id,
            to=number,
            after=int(page.after) if page.after else None,
            limit=page.limit,
        )
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return SandboxPage(
        items=[
            SandboxMessageOut(
                id=str(r.id),
                sms_id=r.sms_id,
                to=r.to,
                from_=r.from_,
                body=r.body,
                received_at=iso(r.received_at) or "",
            )
            for r in rows
        ],
        next_cursor=encode_cursor(str(rows[-1].id)) if more and rows else None,
    )
