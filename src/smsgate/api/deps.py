"""Shared FastAPI dependencies."""

from __future__ import annotations

from fastapi import Request

from smsgate.gateway import Gateway


def gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw
