"""``GET /v1/sms/inbound/list``: what phones sent to this project's numbers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from smsgate.accounts.auth import AuthContext, require
from smsgate.api.deps import gateway
from smsgate.errors import SmsgateError
from smsgate.gateway import Gateway
from smsgate.inbound import repository
from smsgate.messages.schemas import iso
from smsgate.pagination import PageParams, make_page, page_params
from smsgate.phone import parse_phone

router = APIRouter(prefix="/v1/sms/inbound", tags=["inbound"])


class InboundRecord(BaseModel):
    id: str
    from_: str = Field(alias="from")
    to: str
    body: str
    segments: int
    vendor: str
    received_at: str

    model_config = ConfigDict(populate_by_name=True)


class InboundPage(BaseModel):
    items: list[InboundRecord]
    next_cursor: str | None


def _number(value: str | None, param: str) -> str | None:
    """E.164 when it reads as a valid phone number; else as given (a short code, a sender
    name, or a number libphonenumber does not know: inbound addresses are what the
    upstream wrote)."""
    if not value:
        return None
    try:
        return parse_phone(value, param=param).e164
    except SmsgateError:
        return value


@router.get("/list", response_model=InboundPage, summary="sms.inbound.list")
async def inbound_list(
    auth: Annotated[AuthContext, Depends(require("sms:read"))],
    gw: Annotated[Gateway, Depends(gateway)],
    page: Annotated[PageParams, Depends(page_params)],
    to: Annotated[str | None, Query(max_length=64)] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=64)] = None,
) -> InboundPage:
    async with gw.db.reader() as session:
        rows = await repository.page(
            session,
            auth.project_id,
            to=_number(to, "to"),
            from_=_number(from_, "from"),
            after=page.after,
            limit=page.limit,
        )
    result = make_page(rows, page.limit, "id")
    return InboundPage(
        items=[
            InboundRecord(
                id=r.id,
                from_=r.from_,
                to=r.to,
                body=r.body,
                segments=r.segments,
                vendor=r.vendor,
                received_at=iso(r.received_at) or "",
            )
            for r in result.items
        ],
        next_cursor=result.next_cursor,
    )
