"""The vendors a gateway process knows, by name."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from smsgate.vendors.base import Vendor


class VendorRegistry(Mapping[str, Vendor]):
    def __init__(self, vendors: list[Vendor], default: str) -> None:
        self._vendors = {v.name: v for v in vendors}
        if default not in self._vendors:
            raise ValueError(f"default vendor {default!r} is not configured")
        self.default = default

    def __getitem__(self, name: str) -> Vendor:
        return self._vendors[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._vendors)

    def __len__(self) -> int:
        return len(self._vendors)

    def pick(self, pinned: str | None) -> Vendor:
        """The vendor for a message: its pin if it has one, else the default.

        Routing rules (country, kind, cost, health) replace this with the routing issue.
        """
        return self._vendors[pinned or self.default]

    async def aclose(self) -> None:
        for vendor in self._vendors.values():
            await vendor.aclose()
