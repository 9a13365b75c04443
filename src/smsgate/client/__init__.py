"""The smsgate Python SDK. Imports httpx and pydantic only, never the server.

    from smsgate.client import Client
    client = Client()                  # URL and key: args, env, or credentials file
    sms = client.sms.send(to="+15005550006", body="Hello")
    client.sms.status(sms.sms_id).state
    for sms in client.sms.list_all(state="failed"): ...

``AsyncClient`` has the same namespaces; its methods are awaited and its ``*_all``
iterators are async iterators. Errors: see ``smsgate.client.errors``.
"""

from smsgate.client._client import AsyncClient, Client
from smsgate.client.credentials import (
    Credentials,
    credentials_path,
    read_credentials,
    write_credentials,
)
from smsgate.client.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    InsufficientCreditError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SmsgateConfigError,
    SmsgateError,
)
from smsgate.client.models import (
    FINAL_STATES,
    SMS_STATES,
    Account,
    BatchItem,
    BatchItemError,
    BatchResult,
    CancelResult,
    OtpRequest,
    Page,
    ResendResult,
    SandboxMessage,
    SmsEvent,
    SmsRecord,
    VerifyResult,
)

__all__ = [
    "FINAL_STATES",
    "SMS_STATES",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "Account",
    "AsyncClient",
    "AuthenticationError",
    "BatchItem",
    "BatchItemError",
    "BatchResult",
    "CancelResult",
    "Client",
    "ConflictError",
    "Credentials",
    "InsufficientCreditError",
    "InvalidRequestError",
    "NotFoundError",
    "OtpRequest",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "ResendResult",
    "SandboxMessage",
    "SmsEvent",
    "SmsRecord",
    "SmsgateConfigError",
    "SmsgateError",
    "VerifyResult",
    "credentials_path",
    "read_credentials",
    "write_credentials",
]
