"""The ``simulator`` vendor: the adapter between the dispatcher and the simulated carrier.

It is shaped like every other adapter: it hands one message to its upstream (here
``SimulatedCarrier`` instead of an HTTP API) and translates the upstream's
failures into transient or permanent vendor errors at this one boundary.
"""

from __future__ import annotations

from smsgate.sandbox.carrier import CarrierError, SimulatedCarrier
from smsgate.vendors.base import (
    OutboundMessage,
    PermanentVendorError,
    Submitted,
    TransientVendorError,
    Vendor,
)


class SimulatorVendor(Vendor):
    kind = "simulator"
    name = "simulator"
    # Its failures are scripted per number (magic numbers), not a sign of its health.
    health_tracked = False

    def __init__(self, carrier: SimulatedCarrier) -> None:
        self.carrier = carrier

    async def check(self) -> str:
        return "built-in simulated carrier (sandbox inbox)"

    async def send(self, message: OutboundMessage) -> Submitted:
        try:
            return Submitted(await self.carrier.submit(message))
        except CarrierError as exc:
            error = PermanentVendorError if exc.permanent else TransientVendorError
            raise error(exc.code, exc.message) from exc
