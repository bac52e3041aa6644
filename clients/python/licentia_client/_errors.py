"""The exception tree: one class per family of protocol codes.

::

    LicentiaError                     code, message, status (0 for client-side errors)
    ├── TransportError                NETWORK_ERROR, TIMEOUT (after the retries)
    ├── ResponseError                 INVALID_JSON, AUTH_INVALID_SIGNATURE,
    │                                 AUTH_REQUEST_MISMATCH, AUTH_CLOCK_OUT_OF_SYNC
    ├── OfflineTicketError            a stored ticket that does not verify offline
    └── ApiError                      a signed error response of the server
        ├── BadRequestError           INVALID_REQUEST, PAYLOAD_TOO_LARGE, NOT_FOUND,
        │                             METHOD_NOT_ALLOWED, MISSING_FIELDS, INVALID_INPUT,
        │                             INVALID_DEVICE_TYPE
        ├── RequestRejectedError      REQUEST_EXPIRED, REPLAY_DETECTED, INVALID_REQUEST_SIGNATURE
        ├── RateLimitedError          RATE_LIMITED (retry_after)
        ├── SessionError              INVALID_SESSION, SESSION_EXPIRED, LOGIN_REQUIRED
        ├── AppError                  OWNER_NOT_FOUND, APP_NOT_FOUND, INVALID_SECRET,
        │                             APP_DISABLED, HASH_REQUIRED, INVALID_HASH, TICKETS_DISABLED
        ├── UpdateRequiredError       UPDATE_REQUIRED, VERSION_MISMATCH (update)
        ├── BlockedError              IP_BLOCKED, VPN_BLOCKED, COUNTRY_BLOCKED, SID_BLOCKED,
        │                             SID_NOT_WHITELISTED
        ├── NotFoundError             USER_NOT_FOUND, LICENSE_NOT_FOUND, MOTHERBOARD_NOT_FOUND,
        │                             PROCESSOR_NOT_FOUND, VARIABLE_NOT_FOUND, CHANNEL_NOT_FOUND
        ├── CredentialError           INVALID_PASSWORD, USERNAME_TAKEN, PASSWORD_REUSED,
        │                             PASSWORD_CHANGE_UNAVAILABLE
        ├── AccountStateError         USER_BANNED/SUSPENDED/EXPIRED, LICENSE_BANNED/PAUSED/
        │                             EXPIRED/IN_USE, MOTHERBOARD_*/PROCESSOR_* states,
        │                             DEVICE_LIMIT_REACHED, INVALID_DURATION
        ├── ForbiddenError            VARIABLE_READ_ONLY, USERNAME_NOT_LINKED, USER_MUTED
        ├── TicketRejectedError       INVALID_TICKET, TICKET_EXPIRED
        └── ServerError               INTERNAL, and any code this version does not know
"""

from __future__ import annotations

from typing import Any


class LicentiaError(Exception):
    """Base of every error this package raises."""

    def __init__(self, code: str, message: str, *, status: int = 0) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class TransportError(LicentiaError):
    """The server could not be reached (after the allowed retries)."""


class ResponseError(LicentiaError):
    """A response that must not be trusted: unsigned, badly signed, mismatched or not JSON."""


class OfflineTicketError(LicentiaError):
    """An offline ticket that is malformed, forged, expired, or for another app or machine."""


class ApiError(LicentiaError):
    """A verified error response; `body` is the whole response object."""

    def __init__(self, code: str, message: str, *, status: int, body: dict[str, Any]) -> None:
        super().__init__(code, message, status=status)
        self.body = body
        fields = body.get("fields")
        self.fields: list[str] = list(fields) if isinstance(fields, list) else []


class BadRequestError(ApiError):
    pass


class RequestRejectedError(ApiError):
    pass


class RateLimitedError(ApiError):
    @property
    def retry_after(self) -> int:
        value = self.body.get("retry_after", 1)
        return value if isinstance(value, int) else 1


class SessionError(ApiError):
    pass


class AppError(ApiError):
    pass


class UpdateRequiredError(ApiError):
    @property
    def update(self) -> dict[str, Any]:
        value = self.body.get("update")
        return value if isinstance(value, dict) else {}


class BlockedError(ApiError):
    pass


class NotFoundError(ApiError):
    pass


class CredentialError(ApiError):
    pass


class AccountStateError(ApiError):
    pass


class ForbiddenError(ApiError):
    @property
    def muted_until(self) -> str:
        return str(self.body.get("muted_until", ""))


class TicketRejectedError(ApiError):
    pass


class ServerError(ApiError):
    pass


_FAMILIES: dict[type[ApiError], str] = {
    BadRequestError: "INVALID_REQUEST PAYLOAD_TOO_LARGE NOT_FOUND METHOD_NOT_ALLOWED "
    "MISSING_FIELDS INVALID_INPUT INVALID_DEVICE_TYPE",
    RequestRejectedError: "REQUEST_EXPIRED REPLAY_DETECTED INVALID_REQUEST_SIGNATURE",
    RateLimitedError: "RATE_LIMITED",
    SessionError: "INVALID_SESSION SESSION_EXPIRED LOGIN_REQUIRED",
    AppError: "OWNER_NOT_FOUND APP_NOT_FOUND INVALID_SECRET APP_DISABLED HASH_REQUIRED "
    "INVALID_HASH TICKETS_DISABLED",
    UpdateRequiredError: "UPDATE_REQUIRED VERSION_MISMATCH",
    BlockedError: "IP_BLOCKED VPN_BLOCKED COUNTRY_BLOCKED SID_BLOCKED SID_NOT_WHITELISTED",
    NotFoundError: "USER_NOT_FOUND LICENSE_NOT_FOUND MOTHERBOARD_NOT_FOUND PROCESSOR_NOT_FOUND "
    "VARIABLE_NOT_FOUND CHANNEL_NOT_FOUND",
    CredentialError: "INVALID_PASSWORD USERNAME_TAKEN PASSWORD_REUSED PASSWORD_CHANGE_UNAVAILABLE",
    AccountStateError: "USER_BANNED USER_SUSPENDED USER_EXPIRED LICENSE_BANNED LICENSE_PAUSED "
    "LICENSE_EXPIRED LICENSE_IN_USE MOTHERBOARD_BANNED MOTHERBOARD_PAUSED MOTHERBOARD_EXPIRED "
    "PROCESSOR_BANNED PROCESSOR_PAUSED PROCESSOR_EXPIRED DEVICE_LIMIT_REACHED INVALID_DURATION",
    ForbiddenError: "VARIABLE_READ_ONLY USERNAME_NOT_LINKED USER_MUTED",
    TicketRejectedError: "INVALID_TICKET TICKET_EXPIRED",
    ServerError: "INTERNAL",
}

#: Protocol code -> exception class.
CODES: dict[str, type[ApiError]] = {
    code: cls for cls, codes in _FAMILIES.items() for code in codes.split()
}


def api_error(status: int, body: dict[str, Any]) -> ApiError:
    """The exception for a verified error body."""
    code = str(body.get("code", "INTERNAL"))
    cls = CODES.get(code, ServerError)
    return cls(code, str(body.get("message", "")), status=status, body=body)
