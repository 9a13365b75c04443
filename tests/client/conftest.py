"""Fixtures of the SDK unit tests: no server, an isolated environment, anyio on asyncio."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _sdk_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No SMSGATE_* variables, and a config directory of this test's own."""
    for name in list(os.environ):
        if name.startswith("SMSGATE_"):
            monkeypatch.delenv(name)
    config = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    return config
