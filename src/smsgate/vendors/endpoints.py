"""``POST /hooks/{vendor}/{kind}``: receipts from upstreams, checked by each vendor's signature.

No API key: the vendor's signature is the authentication. A bad signature is a 403
(and a warning in the log); an unknown vendor a 404. Repeats are harmless: a receipt
only moves a message forward (a late ``sent`` never undoes ``delivered``).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from smsgate.api.deps import gateway
from smsgate.dispatch.worker import apply_vendor_events
from smsgate.errors import NotFound, PermissionDenied
from smsgate.gateway import Gateway
from smsgate.vendors.base import CallbackRequest, InvalidCallback

log = logging.getLogger("smsgate.hooks")
router = APIRouter(prefix="/hooks", tags=["vendor callbacks"])


@router.post("/{vendor_name}/{kind}", summary="a vendor's status callback")
async def callback(
    vendor_name: str, kind: str, request: Request, gw: Annotated[Gateway, Depends(gateway)]
) -> dict[str, int]:
    vendor = gw.vendors.get(vendor_name)
    if vendor is None or vendor_name == "simulator":
        raise NotFound(f"No vendor {vendor_name} takes callbacks here.")
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
    except InvalidCallback as exc:
        log.warning(
            "rejected %s callback from %s: %s",
            vendor_name,
            request.client.host if request.client else "?",
            exc,
        )
        raise PermissionDenied(
            "The callback's signature does not verify.", code="invalid_signature"
        ) from exc
    if events:
        async with gw.db.session() as session:
            await apply_vendor_events(session, vendor.name, events, gw.clock())
    return {"received": len(events)}
