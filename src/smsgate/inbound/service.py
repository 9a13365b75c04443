"""Inbound messages: store them (joining long ones) under the project they belong to.

Which project an inbound message belongs to, for a gateway-wide vendor: the project that
last sent a message to that phone (it is most likely a reply); failing that, the first
project (on a one-project install, the only one). A project's own vendor (BYOK) gives
its project directly.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from smsgate.api.nul import without_nul
from smsgate.ids import new_id
from smsgate.inbound import repository
from smsgate.text import gsm7
from smsgate.vendors.base import InboundMessage

log = logging.getLogger("smsgate.inbound")


async def store(
    session: AsyncSession,
    vendor: str,
    message: InboundMessage,
    now: datetime,
    project_id: str | None = None,
) -> str | None:
    """Store one inbound message or part. Returns the ``inb_`` id once a whole message is
    stored; None while the parts of a long one are still arriving."""
    received = message.received_at or now
    message = replace(  # a phone's text is not refused; PostgreSQL cannot store a NUL
        message,
        from_=without_nul(message.from_),
        to=without_nul(message.to),
        body=without_nul(message.body),
        vendor_message_id=without_nul(message.vendor_message_id)
        if message.vendor_message_id is not None
        else None,
    )
    if message.vendor_message_id is not None:
        known = await repository.find_by_vendor_id(session, vendor, message.vendor_message_id)
        if known is not None:
            return known  # the upstream repeated its webhook
    body, segments = message.body, 1
    if message.part is not None:
        part = message.part
        await repository.add_part(
            session,
            {
                "vendor": vendor,
                "from_": message.from_,
                "to": message.to,
                "reference": part.reference,
                "total": part.total,
                "number": part.number,
                "body": message.body,
                "received_at": received,
            },
        )
        parts = await repository.take_parts_if_complete(
            session, vendor, message.from_, message.to, part.reference, part.total
        )
        if parts is None:
            return None
        body, segments = "".join(p.body for p in parts), len(parts)
        received = max(p.received_at for p in parts)
    else:
        segments = gsm7.analyze(body).segments
    project = (
        project_id
        or await repository.project_for_reply(session, message.from_)
        or await repository.first_project(session)
    )
    if project is None:
        log.warning("inbound message from %s dropped: there is no project yet", vendor)
        return None
    inbound_id = new_id("inb")
    await repository.insert_message(
        session,
        {
            "id": inbound_id,
            "project_id": project,
            "vendor": vendor,
            "from_": message.from_,
            "to": message.to,
            "body": body,
            "segments": segments,
            "vendor_message_id": message.vendor_message_id,
            "received_at": received,
        },
    )
    return inbound_id
