"""Settings: environment variables with the prefix ``SMSGATE_``, then defaults.

Only what the running gateway needs lives here; the CLI turns its options into
these same settings so one object describes a process.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "smsgate"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMSGATE_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    """SQLAlchemy URL. Unset: SQLite file ``smsgate.db`` in ``data_dir``."""

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    """The URL clients use; written to the credentials file. Default http://host:port."""

    max_body_bytes: int = 1_048_576

    # Dispatch
    dispatch_enabled: bool = True
    dispatch_workers: int = 1
    dispatch_batch_size: int = 64
    dispatch_concurrency: int = 64
    dispatch_poll_interval: float = 0.05
    dispatch_idle_interval: float = 0.25
    lease_seconds: float = 30.0
    max_attempts: int = 5
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 300.0
    validity_seconds: int = 72 * 3600
    vendor_timeout_seconds: float = 10.0
    held_receipt_sweep_seconds: float = 2.0
    """How often receipts that arrived before their message id was recorded are retried."""

    # Built-in simulated carrier
    simulator_receipt_delay: float = 1.0
    simulator_timeout_sleep: float = 30.0
    """How long the simulator's time-out number hangs (the vendor timeout cuts it)."""

    # Money
    default_price_per_segment: Decimal = Decimal("0.007500")

    # API keys
    auth_cache_seconds: float = 1.0
    """How long a process trusts a key it has looked up: a key revoked elsewhere (the CLI,
    another process) stops working within this time. 0 looks every request up."""

    # Idempotency
    idempotency_ttl_seconds: int = 24 * 3600
    idempotency_lock_seconds: float = 60.0

    secret_key: SecretStr | None = None

    config_file: Path | None = None
    """``smsgate.toml`` with vendors (default: ``<data dir>/smsgate.toml`` if present)."""

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'smsgate.db'}"

    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"
