"""licentia-client: a typed Python client for Licentia's client API (AuthlyX v2 protocol).

Every response is verified (Ed25519 signature, request id and nonce echo, clock) before any
of it is used; requests carry the HMAC signature when the app secret is known; transient
network failures are retried with the same nonce; offline tickets verify with the server
public key alone. See docs/client.md in the Licentia repository.
"""

from licentia_client._client import AsyncClient, Client
from licentia_client._crypto import kid_of, load_public_key
from licentia_client._errors import (
    CODES,
    AccountStateError,
    ApiError,
    AppError,
    BadRequestError,
    BlockedError,
    CredentialError,
    ForbiddenError,
    LicentiaError,
    NotFoundError,
    OfflineTicketError,
    RateLimitedError,
    RequestRejectedError,
    ResponseError,
    ServerError,
    SessionError,
    TicketRejectedError,
    TransportError,
    UpdateRequiredError,
)
from licentia_client._hwid import default_hwid, linux_machine_id, macos_platform_uuid, windows_sid
from licentia_client._models import (
    BlacklistResult,
    ChatMessage,
    ChatPage,
    ExtendResult,
    InitResult,
    IssuedTicket,
    LoginResult,
    Profile,
    SessionStatus,
    Subscription,
    TicketClaims,
    TicketStatus,
    UpdateInfo,
    Variable,
)
from licentia_client._tickets import TicketStore, verify_ticket

__version__ = "0.1.0"

__all__ = [
    "CODES",
    "AccountStateError",
    "ApiError",
    "AppError",
    "AsyncClient",
    "BadRequestError",
    "BlacklistResult",
    "BlockedError",
    "ChatMessage",
    "ChatPage",
    "Client",
    "CredentialError",
    "ExtendResult",
    "ForbiddenError",
    "InitResult",
    "IssuedTicket",
    "LicentiaError",
    "LoginResult",
    "NotFoundError",
    "OfflineTicketError",
    "Profile",
    "RateLimitedError",
    "RequestRejectedError",
    "ResponseError",
    "ServerError",
    "SessionError",
    "SessionStatus",
    "Subscription",
    "TicketClaims",
    "TicketRejectedError",
    "TicketStatus",
    "TicketStore",
    "TransportError",
    "UpdateInfo",
    "UpdateRequiredError",
    "Variable",
    "default_hwid",
    "kid_of",
    "linux_machine_id",
    "load_public_key",
    "macos_platform_uuid",
    "verify_ticket",
    "windows_sid",
]
