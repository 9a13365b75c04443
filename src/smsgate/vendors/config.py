"""Vendors from ``smsgate.toml``: which upstreams this gateway talks to.

The file is ``SMSGATE_CONFIG_FILE``, else ``<data dir>/smsgate.toml`` if present.
Secrets are given by environment reference, never written in the file::

    default_vendor = "simulator"

    [vendors.twilio-us]
    type = "twilio"
    account_sid = "AC0123..."
    auth_token = { env = "TWILIO_AUTH_TOKEN" }
    from = "+15005550006"

The built-in ``simulator`` is always there. Status callbacks are addressed to
``{public_url}/hooks/{vendor name}/status``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from smsgate.config import Settings
from smsgate.vendors.base import Vendor
from smsgate.vendors.twilio import TwilioVendor


class ConfigError(ValueError):
    pass


def _secret(value: Any) -> Any:
    """``{ env = "NAME" }`` → the variable's value; a missing variable is an error."""
    if isinstance(value, dict) and set(value) == {"env"}:
        name = str(value["env"])
        if name not in os.environ:
            raise ValueError(f"environment variable {name} is not set")
        return os.environ[name]
    return value


class TwilioConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: str
    account_sid: str
    auth_token: SecretStr
    from_: str | None = Field(default=None, alias="from")
    messaging_service_sid: str | None = None
    base_url: str = "https://api.twilio.com"

    _secrets = field_validator("auth_token", mode="before")(_secret)


def _twilio(name: str, raw: dict[str, Any], settings: Settings) -> Vendor:
    cfg = TwilioConfig.model_validate(raw)
    return TwilioVendor(
        name,
        account_sid=cfg.account_sid,
        auth_token=cfg.auth_token,
        from_=cfg.from_,
        messaging_service_sid=cfg.messaging_service_sid,
        callback_url=callback_url(settings, name),
        base_url=cfg.base_url,
        timeout=settings.vendor_timeout_seconds,
    )


FACTORIES: dict[str, Callable[[str, dict[str, Any], Settings], Vendor]] = {"twilio": _twilio}


def callback_url(settings: Settings, vendor_name: str) -> str:
    return f"{settings.resolved_public_url()}/hooks/{vendor_name}/status"


def config_path(settings: Settings) -> Path | None:
    if settings.config_file is not None:
        return settings.config_file
    default = Path(settings.data_dir) / "smsgate.toml"
    return default if default.exists() else None


def load(settings: Settings) -> tuple[list[Vendor], str]:
    """The configured vendors and the default vendor's name."""
    path = config_path(settings)
    if path is None:
        return [], "simulator"
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    vendors: list[Vendor] = []
    for name, raw in (data.get("vendors") or {}).items():
        if name == "simulator":
            raise ConfigError(f"{path}: 'simulator' is built in and cannot be redefined")
        kind = raw.get("type") if isinstance(raw, dict) else None
        factory = FACTORIES.get(str(kind))
        if factory is None:
            raise ConfigError(
                f"{path}: vendor {name!r} has type {kind!r}; known: {', '.join(FACTORIES)}"
            )
        try:
            vendors.append(factory(name, raw, settings))
        except (ValidationError, ValueError) as exc:
            raise ConfigError(f"{path}: vendor {name!r}: {exc}") from exc
    default = str(data.get("default_vendor", "simulator"))
    if default != "simulator" and default not in {v.name for v in vendors}:
        raise ConfigError(f"{path}: default_vendor {default!r} is not a configured vendor")
    return vendors, default
