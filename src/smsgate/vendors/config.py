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
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from smsgate.config import Settings
from smsgate.vendors.aliyun import AliyunVendor
from smsgate.vendors.base import Vendor
from smsgate.vendors.generic_http import GenericHttpVendor
from smsgate.vendors.plivo import PlivoVendor
from smsgate.vendors.routing import Route
from smsgate.vendors.smpp.vendor import SmppVendor
from smsgate.vendors.telnyx import TelnyxVendor
from smsgate.vendors.twilio import TwilioVendor
from smsgate.vendors.vonage import VonageVendor


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
    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)

    type: str
    account_sid: str
    auth_token: SecretStr
    from_: str | None = Field(default=None, alias="from")
    messaging_service_sid: str | None = None
    base_url: str = "https://api.twilio.com"

    _secrets = field_validator("auth_token", mode="before")(_secret)

    @model_validator(mode="after")
    def _has_sender(self) -> TwilioConfig:
        if not (self.from_ or self.messaging_service_sid):
            raise ValueError("give 'from' or 'messaging_service_sid'")
        return self


class VonageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)

    type: str
    api_key: str
    api_secret: SecretStr
    signature_secret: SecretStr | None = None
    signature_method: Literal["md5hash", "md5", "sha1", "sha256", "sha512"] = "md5hash"
    from_: str = Field(alias="from")
    base_url: str = "https://rest.nexmo.com"

    _secrets = field_validator("api_secret", "signature_secret", mode="before")(_secret)


class TelnyxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)

    type: str
    api_key: SecretStr
    public_key: str
    from_: str | None = Field(default=None, alias="from")
    messaging_profile_id: str | None = None
    base_url: str = "https://api.telnyx.com"

    _secrets = field_validator("api_key", mode="before")(_secret)

    @model_validator(mode="after")
    def _has_sender(self) -> TelnyxConfig:
        if not (self.from_ or self.messaging_profile_id):
            raise ValueError("give 'from' or 'messaging_profile_id'")
        return self


class PlivoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)

    type: str
    auth_id: str
    auth_token: SecretStr
    from_: str | None = Field(default=None, alias="from")
    powerpack_uuid: str | None = None
    base_url: str = "https://api.plivo.com"

    _secrets = field_validator("auth_token", mode="before")(_secret)

    @model_validator(mode="after")
    def _has_sender(self) -> PlivoConfig:
        if not (self.from_ or self.powerpack_uuid):
            raise ValueError("give 'from' or 'powerpack_uuid'")
        return self


class AliyunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    type: str
    access_key_id: str
    access_key_secret: SecretStr
    sign_name: str
    template_code: str
    template_param_name: str = "content"
    otp_template_code: str | None = None
    otp_param_name: str = "code"
    callback_token: SecretStr | None = None
    base_url: str = "https://dysmsapi.aliyuncs.com"

    _secrets = field_validator("access_key_secret", "callback_token", mode="before")(_secret)

    @field_validator("callback_token")
    @classmethod
    def _random_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # It rides in a URL query and is the receipts' only proof of origin.
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{24,}", value.get_secret_value()):
            raise ValueError("use at least 24 random characters of A-Z a-z 0-9 _ -")
        return value


class GenericHttpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    type: str
    url: str
    method: Literal["GET", "POST"] = "GET"
    body: str | None = None
    content_type: str = "application/x-www-form-urlencoded"
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    secrets: dict[str, SecretStr] = {}
    success_status: list[int] = [200, 201, 202]
    success_regex: str = ""
    message_id_regex: str | None = None
    callback_token: SecretStr | None = None
    id_param: str = "id"
    status_param: str = "status"
    statuses: dict[str, Literal["sent", "delivered", "undelivered", "failed"]] = {}

    @field_validator("secrets", mode="before")
    @classmethod
    def _env_secrets(cls, value: Any) -> Any:
        return {k: _secret(v) for k, v in value.items()} if isinstance(value, dict) else value

    _token = field_validator("callback_token", mode="before")(_secret)


class SmppConfig(BaseModel):
    """``type = "smpp"``: see docs/vendors/smpp.md for every key."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    type: str
    host: str
    port: int = Field(default=2775, ge=1, le=65535)
    system_id: str = Field(max_length=15)
    password: SecretStr = Field(max_length=8)
    """SMPP 3.4 allows 8 characters (a longer one would be cut short on the wire)."""
    system_type: str = Field(default="", max_length=12)
    binding: Literal["transceiver", "transmitter_receiver", "transmitter"] = "transceiver"
    binds: int = Field(default=1, ge=1, le=32)
    window: int = Field(default=10, ge=1, le=1000)
    throughput: float = Field(default=0.0, ge=0)
    enquire_link_interval: float = Field(default=30.0, gt=0)
    response_timeout: float = Field(default=10.0, gt=0)
    reconnect_min: float = Field(default=0.5, gt=0)
    reconnect_max: float = Field(default=30.0, gt=0)
    throttle_pause: float = Field(default=1.0, gt=0)
    bind_wait: float = Field(default=5.0, ge=0)
    tls: bool = False
    tls_ca_file: str | None = None
    tls_verify: bool = True
    tls_server_name: str | None = None
    source_addr: str | None = None
    source_ton: int | None = Field(default=None, ge=0, le=6)
    source_npi: int | None = Field(default=None, ge=0, le=18)
    dest_ton: int | None = Field(default=None, ge=0, le=6)
    dest_npi: int | None = Field(default=None, ge=0, le=18)
    service_type: str = Field(default="", max_length=5)
    long_messages: Literal["udh", "sar", "payload"] = "udh"
    latin1: bool = False
    delivery_receipts: bool = True
    receipt_ids: Literal["auto", "same", "hex_to_dec", "dec_to_hex"] = "auto"

    _secrets = field_validator("password", mode="before")(_secret)


TYPES: dict[str, tuple[type[BaseModel], Callable[..., Vendor]]] = {
    "twilio": (TwilioConfig, TwilioVendor),
    "vonage": (VonageConfig, VonageVendor),
    "telnyx": (TelnyxConfig, TelnyxVendor),
    "plivo": (PlivoConfig, PlivoVendor),
    "aliyun": (AliyunConfig, AliyunVendor),
    "http": (GenericHttpConfig, GenericHttpVendor),
    "smpp": (SmppConfig, SmppVendor),
}
"""Vendor types: the model that validates a config, and the adapter built from it. A
config model's fields (but ``type``) are the adapter's keyword arguments, by name."""


def build(kind: str, name: str, raw: dict[str, Any], settings: Settings, callback: str) -> Vendor:
    """Validate ``raw`` for vendor type ``kind`` and build the adapter."""
    model, adapter = TYPES[kind]
    cfg = model.model_validate(raw)
    fields = {field: getattr(cfg, field) for field in model.model_fields if field != "type"}
    return adapter(name, **fields, callback_url=callback, timeout=settings.vendor_timeout_seconds)


CONFIG_MODELS: dict[str, type[BaseModel]] = {
    "twilio": TwilioConfig,
    "vonage": VonageConfig,
    "telnyx": TelnyxConfig,
    "plivo": PlivoConfig,
    "aliyun": AliyunConfig,
}
"""Types a project may bring its own account of (``/v1/vendors``)."""


def secret_fields(kind: str) -> list[str]:
    """The fields of a vendor type that hold secrets (typed ``SecretStr``)."""
    model = CONFIG_MODELS[kind]
    return [
        f.alias or name
        for name, f in model.model_fields.items()
        if "SecretStr" in str(f.annotation)
    ]


def callback_url(settings: Settings, vendor_name: str) -> str:
    return f"{settings.resolved_public_url()}/hooks/{vendor_name}/status"


def config_path(settings: Settings) -> Path | None:
    if settings.config_file is not None:
        return settings.config_file
    default = Path(settings.data_dir) / "smsgate.toml"
    return default if default.exists() else None


class RouteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vendors: list[str] = Field(min_length=1)
    strategy: Literal["priority", "weighted", "least_cost"] = "priority"
    countries: list[str] = []
    prefixes: list[str] = []
    kinds: list[Literal["otp", "transactional", "marketing"]] = []
    weights: list[float] = []


class BreakerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    failure_threshold: int = Field(default=5, ge=1)
    open_seconds: float = Field(default=30.0, gt=0)


@dataclass
class GatewayVendors:
    """What ``smsgate.toml`` says about upstreams."""

    vendors: list[Vendor] = field(default_factory=list)
    default: str = "simulator"
    routes: list[Route] = field(default_factory=list)
    prices: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)


def load(settings: Settings) -> tuple[list[Vendor], str]:
    """The configured vendors and the default vendor's name."""
    loaded = load_all(settings)
    return loaded.vendors, loaded.default


def load_all(settings: Settings) -> GatewayVendors:
    path = config_path(settings)
    if path is None:
        return GatewayVendors()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    vendors: list[Vendor] = []
    prices: dict[str, dict[str, Decimal]] = {}
    for name, raw in (data.get("vendors") or {}).items():
        if name == "simulator":
            raise ConfigError(f"{path}: 'simulator' is built in and cannot be redefined")
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind not in TYPES:
            raise ConfigError(
                f"{path}: vendor {name!r} has type {kind!r}; known: {', '.join(TYPES)}"
            )
        raw = dict(raw)
        try:
            prices[name] = {k: Decimal(str(v)) for k, v in (raw.pop("prices", None) or {}).items()}
            vendors.append(build(str(kind), name, raw, settings, callback_url(settings, name)))
        except (ValidationError, ValueError, ArithmeticError) as exc:
            raise ConfigError(f"{path}: vendor {name!r}: {exc}") from exc
    names = {"simulator"} | {v.name for v in vendors}
    default = str(data.get("default_vendor", "simulator"))
    if default not in names:
        raise ConfigError(f"{path}: default_vendor {default!r} is not a configured vendor")
    routes = []
    for i, raw in enumerate(data.get("routes") or []):
        try:
            rc = RouteConfig.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(f"{path}: routes[{i}]: {exc}") from exc
        unknown = [v for v in rc.vendors if v not in names]
        if unknown:
            raise ConfigError(f"{path}: routes[{i}] names unknown vendor(s) {unknown}")
        if rc.weights and len(rc.weights) != len(rc.vendors):
            raise ConfigError(f"{path}: routes[{i}]: one weight per vendor")
        routes.append(
            Route(
                vendors=tuple(rc.vendors),
                strategy=rc.strategy,
                countries=frozenset(c.upper() for c in rc.countries),
                prefixes=tuple(rc.prefixes),
                kinds=frozenset(rc.kinds),
                weights=tuple(rc.weights),
            )
        )
    try:
        breaker = BreakerConfig.model_validate(data.get("breaker") or {})
    except ValidationError as exc:
        raise ConfigError(f"{path}: breaker: {exc}") from exc
    return GatewayVendors(vendors, default, routes, prices, breaker)
