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

    async def aclose(self) -> None:
        for vendor in self._vendors.values():
            await vendor.aclose()
