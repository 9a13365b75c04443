"""HTTP routes of the messages API: auth, one service call, a schema back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from smsgate.accounts.auth import AuthContext, require
from smsgate.api.deps import gateway
from smsgate.api.scope import idempotency_key_of, run_keyed, run_write
from smsgate.gateway import Gateway
from smsgate.messages import service
from smsgate.messages.schemas import (
    SmsBatchResult,
    SmsBatchSendRequest,
    SmsCancelResult,
    SmsEventPage,
    SmsPage,
    SmsRecord,
    SmsResendRequest,
    SmsResendResult,
    SmsSendRequest,
)
from smsgate.pagination import PageParams, page_params

router = APIRouter(prefix="/v1/sms", tags=["messages"])

Sender = Annotated[AuthContext, Depends(require("sms:send"))]
Reader = Annotated[AuthContext, Depends(require("sms:read"))]
GW = Annotated[Gateway, Depends(gateway)]
Paging = Annotated[PageParams, Depends(page_params)]


@router.post("/send", response_model=SmsRecord, summary="sms.send")
async def send(request: Request, body: SmsSendRequest, auth: Sender, gw: GW) -> JSONResponse:
    """Concurrent sends share transactions (group commit), with or without a key."""
    key = idempotency_key_of(request, body)
    if key is None:
        record = await service.send_grouped(
            gw.db, gw.sends, auth.project_id, body, gw.policy, gw.clock()
        )
        gw.work_queued()
        return JSONResponse(record.model_dump(mode="json", by_alias=True))
    return await run_keyed(
        request,
        auth,
        body,
        key,
        lambda token: service.send_keyed(
            gw.db, gw.keyed_sends, auth.project_id, body, gw.policy, gw.clock(), key, token
        ),
    )


@router.post("/batch/send", response_model=SmsBatchResult, summary="sms.batch.send")
async def batch_send(
    request: Request, body: SmsBatchSendRequest, auth: Sender, gw: GW
) -> JSONResponse:
    return await run_write(
        request,
        auth,
        body,
        lambda s: service.send_batch(s, auth.project_id, body.messages, gw.policy, gw.clock()),
        queues_messages=True,
    )


@router.get("/status/{sms_id}", response_model=SmsRecord, summary="sms.status")
async def status(sms_id: str, auth: Reader, gw: GW) -> SmsRecord:
    async with gw.db.reader() as session:
        return await service.get(session, auth.project_id, sms_id)


@router.get("/list", response_model=SmsPage, summary="sms.list")
async def list_messages(
    auth: Reader,
    gw: GW,
    page: Paging,
    state: str | None = None,
    to: Annotated[str | None, Query(max_length=64)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> SmsPage:
    async with gw.db.reader() as session:
        result = await service.list_records(
            session,
            auth.project_id,
            after=page.after,
            limit=page.limit,
            state=state,
            to=to,
            since=since,
            until=until,
        )
    return SmsPage(items=result.items, next_cursor=result.next_cursor)


@router.get("/events/{sms_id}", response_model=SmsEventPage, summary="sms.events")
async def events(sms_id: str, auth: Reader, gw: GW, page: Paging) -> SmsEventPage:
    async with gw.db.reader() as session:
        result = await service.list_events(
            session, auth.project_id, sms_id, after=page.after, limit=page.limit
        )
    return SmsEventPage(items=result.items, next_cursor=result.next_cursor)


@router.post("/cancel/{sms_id}", response_model=SmsCancelResult, summary="sms.cancel")
async def cancel(request: Request, sms_id: str, auth: Sender, gw: GW) -> JSONResponse:
    return await run_write(
        request, auth, None, lambda s: service.cancel(s, auth.project_id, sms_id, gw.clock())
    )


@router.post("/resend/{target_id}", response_model=SmsResendResult, summary="sms.resend")
async def resend(
    request: Request,
    target_id: str,
    auth: Sender,
    gw: GW,
    body: SmsResendRequest | None = None,
) -> JSONResponse:
    req = body or SmsResendRequest()
    return await run_write(
        request,
        auth,
        req,
        lambda s: service.resend(
            s, auth.project_id, target_id, req.only_failed, gw.policy, gw.clock()
        ),
        queues_messages=True,
    )


# Registered last so that /list, /events/... and /status/... win over the bare id.
router.add_api_route(
    "/{sms_id}", status, methods=["GET"], response_model=SmsRecord, summary="sms.status (alias)"
)
