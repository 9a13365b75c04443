"""A malformed vendor config never echoes what was given (it may be a secret)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from smsgate.vendors.config import TYPES


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_validation_errors_hide_the_input(kind: str) -> None:
    model, _ = TYPES[kind]
    secret = "s3cr3t-value-that-must-not-leak"
    raw = {name: [secret] for name in model.model_fields if name != "type"}
    with pytest.raises(ValidationError) as info:
        model.model_validate({"type": kind, **raw})
    assert secret not in str(info.value)
