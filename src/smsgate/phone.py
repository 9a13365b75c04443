"""Phone numbers: parse, validate and normalise to E.164 with libphonenumber."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from smsgate.errors import Unprocessable


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    country_code: int
    region: str | None
    """ISO 3166 alpha-2 region, e.g. ``US``; None for non-geographic numbers."""


def parse_phone(raw: str, *, param: str = "to") -> Phone:
    """Parse an international number (``+`` and country code; spaces, dashes, dots allowed).

    Raises ``Unprocessable(code="invalid_phone_number")`` for anything libphonenumber
    does not consider a valid, dialable number.
    """
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+") or len(text) > 32:
        raise Unprocessable(
            f"{raw!r} is not a phone number in E.164 form (e.g. +14155550100).",
            code="invalid_phone_number",
            param=param,
        )
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise Unprocessable(
            f"{raw!r} is not a valid phone number.", code="invalid_phone_number", param=param
        )
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        country_code=number.country_code or 0,
        region=phonenumbers.region_code_for_number(number),
    )
