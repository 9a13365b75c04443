"""The smsgate Python SDK. Imports httpx and pydantic only, never the server.

from smsgate import Client
client = Client()                      # URL and key: args, env, or credentials file
sms = client.sms.send(to="+15005550006", body="Hello")
client.sms.status(sms.sms_id).state
"""

from smsgate.client._client import AsyncClient, Client
from smsgate.client.credentials import Credentials, credentials_path, read_credentials
from smsgate.client.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
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
    Account,
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
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "Account",
    "AsyncClient",
    "AuthenticationError",
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
]
