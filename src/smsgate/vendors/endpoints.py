"""Vendor routes: callbacks from upstreams, and a project's own vendor accounts.

``POST /hooks/{vendor}/{kind}`` (gateway vendors) and ``POST /hooks/p/{project}/{vendor}/
{kind}`` (a project's own): receipts from upstreams, checked by each vendor's signature.

No API key: the vendor's signature is the authentication. A bad signature is a 403
(and a warning in the log); an unknown vendor a 404. Repeats are harmless: a receipt
only moves a message forward (a late ``sent`` never undoes ``delivered``). An accepted
callback is answered ``{"received": n}``, or with the body its vendor expects.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.accounts.auth import AuthContext, require
from smsgate.api.deps import gateway
from smsgate.api.nul import NoNul
from smsgate.api.scope import run_write
from smsgate.config import Settings
from smsgate.db.models import ProjectVendor
from smsgate.dispatch.worker import apply_vendor_events
from smsgate.errors import NotFound, PermissionDenied, Unprocessable
from smsgate.gateway import Gateway
from smsgate.inbound import service as inbound_service
from smsgate.messages.schemas import iso
from smsgate.vendors import byok
from smsgate.vendors.base import (
    CallbackRequest,
    InboundMessage,
    InvalidCallback,
    Vendor,
    VendorEvent,
)

log = logging.getLogger("smsgate.hooks")
router = APIRouter(tags=["vendors"])


async def _receive(
    request: Request,
    gw: Gateway,
    vendor: Vendor | None,
    label: str,
    project_id: str | None = None,
) -> dict[str, Any]:
    if vendor is None:
        raise NotFound(f"No vendor {label} takes callbacks here.")
    url = gw.settings.resolved_public_url() + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    incoming = CallbackRequest(
        method=request.method,
        url=url,
        headers={k.lower(): v for k, v in request.headers.items()},
        body=await request.body(),
    )
    try:
        events = vendor.parse_callback(incoming)
    except (InvalidCallback, ValueError, KeyError, TypeError) as exc:
        # ValueError and the like: a body that cannot even be read (bytes that are not
        # UTF-8, broken JSON) cannot carry a valid signature either.
        log.warning(
            "rejected %s callback from %s: %s",
            label,
            request.client.host if request.client else "?",
            exc if isinstance(exc, InvalidCallback) else f"unreadable ({type(exc).__name__})",
        )
        raise PermissionDenied(
            "The callback's signature does not verify.", code="invalid_signature"
        ) from exc
    receipts = [e for e in events if isinstance(e, VendorEvent)]
    inbound = [e for e in events if isinstance(e, InboundMessage)]
    if events:
        async with gw.db.session() as session:
            now = gw.clock()
            if receipts:
                await apply_vendor_events(session, vendor.name, receipts, now, project_id)
            for message in inbound:
                await inbound_service.store(session, vendor.name, message, now, project_id)
    return vendor.callback_answer(len(events))


@router.post("/hooks/{vendor_name}/{kind}", summary="a gateway vendor's callback")
async def callback(
    vendor_name: str, kind: str, request: Request, gw: Annotated[Gateway, Depends(gateway)]
) -> dict[str, Any]:
    vendor = gw.vendors.get(vendor_name) if vendor_name != "simulator" else None
    return await _receive(request, gw, vendor, vendor_name)


@router.post("/hooks/p/{project_id}/{vendor_name}/{kind}", summary="a project vendor's callback")
async def project_callback(
    project_id: str,
    vendor_name: str,
    kind: str,
    request: Request,
    gw: Annotated[Gateway, Depends(gateway)],
) -> dict[str, Any]:
    vendor = await gw.byok.get(project_id, vendor_name)
    label = f"{project_id}/{vendor_name}"
    return await _receive(request, gw, vendor, label, project_id)


VendorName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


class VendorCreate(NoNul):
    model_config = ConfigDict(extra="forbid")

    name: VendorName
    type: str
    config: dict[str, Any]


class VendorOut(BaseModel):
    name: str
    type: str
    scope: str
    """``project`` (this project's own account) or ``gateway`` (configured by the operator)."""
    config: dict[str, Any]
    secret_fields: list[str]
    callback_url: str | None
    created_at: str | None
    updated_at: str | None
    health: Literal["closed", "open", "half_open"] | None = None
    """A gateway vendor's circuit breaker, as this process sees it (``open``: failing over)."""
    connections: list[dict[str, Any]] | None = None
    """A connection-oriented vendor's sessions (SMPP binds): mode, bound, last error."""

    @classmethod
    def of(cls, row: ProjectVendor, settings: Settings) -> VendorOut:
        return cls(
            name=row.name,
            type=row.type,
            scope="project",
            config=row.settings,
            secret_fields=row.secret_fields,
            callback_url=byok.hook_url(settings, row.project_id, row.name),
            created_at=iso(row.created_at),
            updated_at=iso(row.updated_at),
        )


class VendorList(BaseModel):
    items: list[VendorOut]


Admin = Annotated[AuthContext, Depends(require("admin"))]
GW = Annotated[Gateway, Depends(gateway)]


@router.post("/v1/vendors", response_model=VendorOut, summary="add or replace an own vendor")
async def create_vendor(request: Request, body: VendorCreate, auth: Admin, gw: GW) -> JSONResponse:
    if body.name in gw.vendors:
        raise Unprocessable(
            f"{body.name!r} is a gateway vendor's name; pick another.",
            code="vendor_name_taken",
            param="name",
        )

    async def handler(session: AsyncSession) -> VendorOut:
        row = await byok.save(
            session, gw.keys, auth.project_id, body.name, body.type, body.config, gw.clock()
        )
        return VendorOut.of(row, gw.settings)

    response = await run_write(request, auth, body, handler)
    await gw.byok.forget(auth.project_id, body.name)
    return response


@router.get("/v1/vendors", response_model=VendorList, summary="vendors this project can use")
async def list_vendors(auth: Admin, gw: GW) -> VendorList:
    async with gw.db.reader() as session:
        own = await byok.list_rows(session, auth.project_id)
    shared = [
        VendorOut(
            name=v.name,
            type=v.kind,
            scope="gateway",
            config={},
            secret_fields=[],
            callback_url=None,
            created_at=None,
            updated_at=None,
            health=gw.router.breaker(v.name).state if v.health_tracked else None,
            connections=v.connections(),
        )
        for v in gw.vendors.values()
    ]
    return VendorList(items=shared + [VendorOut.of(r, gw.settings) for r in own])


@router.delete("/v1/vendors/{name}", summary="remove an own vendor")
async def delete_vendor(name: str, auth: Admin, gw: GW) -> dict[str, bool]:
    async with gw.db.session() as session:
        await byok.remove(session, auth.project_id, name)
    await gw.byok.forget(auth.project_id, name)
    return {"deleted": True}
