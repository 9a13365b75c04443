"""smsgate: a self-hosted SMS gateway.

`from smsgate import Client` gives the Python SDK; the server lives in the
submodules (`smsgate.app`, `smsgate.cli`) and is never imported by the SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from smsgate.client import AsyncClient, Client

__all__ = ["AsyncClient", "Client", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy so that `import smsgate.app` does not drag the SDK in, and the SDK
    # does not drag the server in.
    if name in ("Client", "AsyncClient"):
        from smsgate import client

        return getattr(client, name)
    raise AttributeError(name)
