"""HTTP routes of the one-time passcode API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from smsgate.accounts.auth import AuthContext, require
from smsgate.api.deps import gateway
from smsgate.api.scope import run_write
from smsgate.gateway import Gateway
from smsgate.otp import service
from smsgate.otp.schemas import (
    OtpRecord,
    OtpSendRequest,
    OtpSettings,
    OtpStats,
    OtpVerifyRequest,
    OtpVerifyResult,
)

router = APIRouter(prefix="/v1/sms", tags=["otp"])

Otp = Annotated[AuthContext, Depends(require("otp"))]
Admin = Annotated[AuthContext, Depends(require("admin"))]
GW = Annotated[Gateway, Depends(gateway)]


@router.post("/otp", response_model=OtpRecord, summary="sms.otp")
async def send_otp(request: Request, body: OtpSendRequest, auth: Otp, gw: GW) -> JSONResponse:
    return await run_write(
        request,
        auth,
        body,
        lambda s: service.send(
            s, auth.project_id, body, policy=gw.policy, keys=gw.keys, now=gw.clock()
        ),
        queues_messages=True,
    )


@router.post("/verify", response_model=OtpVerifyResult, summary="sms.verify")
async def verify(request: Request, body: OtpVerifyRequest, auth: Otp, gw: GW) -> JSONResponse:
    return await run_write(
        request,
        auth,
        body,
        lambda s: service.verify(s, auth.project_id, body, keys=gw.keys, now=gw.clock()),
    )


@router.get("/otp/settings", response_model=OtpSettings, summary="OTP rules of this project")
async def get_settings(auth: Otp, gw: GW) -> OtpSettings:
    async with gw.db.reader() as session:
        return await service.load_settings(session, auth.project_id)


@router.put("/otp/settings", response_model=OtpSettings, summary="change the OTP rules")
async def put_settings(body: OtpSettings, auth: Admin, gw: GW) -> OtpSettings:
    async with gw.db.session() as session:
        return await service.save_settings(session, auth.project_id, body, gw.clock())


@router.get("/otp/stats", response_model=OtpStats, summary="conversion (verified / sent)")
async def stats(
    auth: Otp, gw: GW, since: AwareDatetime | None = None, until: AwareDatetime | None = None
) -> OtpStats:
    async with gw.db.reader() as session:
        return await service.stats(session, auth.project_id, since, until)


@router.get("/otp/{request_id}", response_model=OtpRecord, summary="OTP request status")
async def get_otp(request_id: str, auth: Otp, gw: GW) -> OtpRecord:
    async with gw.db.reader() as session:
        return await service.get(session, auth.project_id, request_id, gw.clock())


@router.post("/otp/{request_id}/cancel", response_model=OtpRecord, summary="cancel an OTP")
async def cancel_otp(request: Request, request_id: str, auth: Otp, gw: GW) -> JSONResponse:
    return await run_write(
        request, auth, None, lambda s: service.cancel(s, auth.project_id, request_id, gw.clock())
    )
