"""Per-segment prices by destination country.

The table here is the built-in default (the simulator's price list); real vendor
price lists and per-project prices come with routing. Money is kept as integer
micro-dollars (1e-6 USD) so it is exact on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from decimal import Decimal

MICROS = Decimal("1000000")

# USD per segment; anything not listed costs the settings' default price.
DEFAULT_PRICES: dict[str, Decimal] = {
    "US": Decimal("0.007900"),
    "CA": Decimal("0.007900"),
    "GB": Decimal("0.040000"),
    "DE": Decimal("0.085000"),
    "FR": Decimal("0.075000"),
    "IN": Decimal("0.004500"),
    "CN": Decimal("0.035000"),
    "BR": Decimal("0.055000"),
}


def price_per_segment(region: str | None, default: Decimal) -> Decimal:
    return DEFAULT_PRICES.get(region or "", default)


def to_micros(amount: Decimal) -> int:
    return int((amount * MICROS).to_integral_value())


def from_micros(micros: int) -> Decimal:
    return (Decimal(micros) / MICROS).quantize(Decimal("0.000001"))


def format_usd(micros: int) -> str:
    return f"{from_micros(micros):.6f}"
