"""Protocol codes of the AuthlyX v2 client API: one table of code, HTTP status and default message.

Every client response carries one of these codes. Per-app custom messages may replace the
message of any code except the system-only ones; never the code or the status.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    OK = "OK"
    INVALID_REQUEST = "INVALID_REQUEST"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    REQUEST_EXPIRED = "REQUEST_EXPIRED"
    REPLAY_DETECTED = "REPLAY_DETECTED"
    INVALID_REQUEST_SIGNATURE = "INVALID_REQUEST_SIGNATURE"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL = "INTERNAL"
    MISSING_FIELDS = "MISSING_FIELDS"
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_SESSION = "INVALID_SESSION"
    SESSION_EXPIRED = "SESSION_EXPIRED"
    LOGIN_REQUIRED = "LOGIN_REQUIRED"
    OWNER_NOT_FOUND = "OWNER_NOT_FOUND"
    APP_NOT_FOUND = "APP_NOT_FOUND"
    INVALID_SECRET = "INVALID_SECRET"
    APP_DISABLED = "APP_DISABLED"
    HASH_REQUIRED = "HASH_REQUIRED"
    INVALID_HASH = "INVALID_HASH"
    UPDATE_REQUIRED = "UPDATE_REQUIRED"
    VERSION_MISMATCH = "VERSION_MISMATCH"
    IP_BLOCKED = "IP_BLOCKED"
    VPN_BLOCKED = "VPN_BLOCKED"
    COUNTRY_BLOCKED = "COUNTRY_BLOCKED"
    SID_BLOCKED = "SID_BLOCKED"
    SID_NOT_WHITELISTED = "SID_NOT_WHITELISTED"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    INVALID_PASSWORD = "INVALID_PASSWORD"
    USER_BANNED = "USER_BANNED"
    USER_SUSPENDED = "USER_SUSPENDED"
    USER_EXPIRED = "USER_EXPIRED"
    DEVICE_LIMIT_REACHED = "DEVICE_LIMIT_REACHED"
    USERNAME_TAKEN = "USERNAME_TAKEN"
    PASSWORD_REUSED = "PASSWORD_REUSED"
    PASSWORD_CHANGE_UNAVAILABLE = "PASSWORD_CHANGE_UNAVAILABLE"
    LICENSE_NOT_FOUND = "LICENSE_NOT_FOUND"
    LICENSE_IN_USE = "LICENSE_IN_USE"
    LICENSE_BANNED = "LICENSE_BANNED"
    LICENSE_PAUSED = "LICENSE_PAUSED"
    LICENSE_EXPIRED = "LICENSE_EXPIRED"
    INVALID_DURATION = "INVALID_DURATION"
    INVALID_DEVICE_TYPE = "INVALID_DEVICE_TYPE"
    MOTHERBOARD_NOT_FOUND = "MOTHERBOARD_NOT_FOUND"
    PROCESSOR_NOT_FOUND = "PROCESSOR_NOT_FOUND"
    MOTHERBOARD_BANNED = "MOTHERBOARD_BANNED"
    PROCESSOR_BANNED = "PROCESSOR_BANNED"
    MOTHERBOARD_PAUSED = "MOTHERBOARD_PAUSED"
    PROCESSOR_PAUSED = "PROCESSOR_PAUSED"
    MOTHERBOARD_EXPIRED = "MOTHERBOARD_EXPIRED"
    PROCESSOR_EXPIRED = "PROCESSOR_EXPIRED"
    VARIABLE_NOT_FOUND = "VARIABLE_NOT_FOUND"
    VARIABLE_READ_ONLY = "VARIABLE_READ_ONLY"
    CHANNEL_NOT_FOUND = "CHANNEL_NOT_FOUND"
    USERNAME_NOT_LINKED = "USERNAME_NOT_LINKED"
    USER_MUTED = "USER_MUTED"
    # Offline tickets (Licentia extension, docs/tickets.md).
    TICKETS_DISABLED = "TICKETS_DISABLED"
    INVALID_TICKET = "INVALID_TICKET"
    TICKET_EXPIRED = "TICKET_EXPIRED"


# code -> (HTTP status, default message)
_TABLE: dict[Code, tuple[int, str]] = {
    Code.OK: (200, "Success"),
    Code.INVALID_REQUEST: (400, "The request body must be a JSON object"),
    Code.PAYLOAD_TOO_LARGE: (413, "The request body is too large"),
    Code.NOT_FOUND: (404, "Unknown endpoint"),
    Code.METHOD_NOT_ALLOWED: (405, "This method is not allowed for this endpoint"),
    Code.REQUEST_EXPIRED: (401, "The request timestamp is outside the allowed window"),
    Code.REPLAY_DETECTED: (401, "This request has already been used"),
    Code.INVALID_REQUEST_SIGNATURE: (401, "The request signature is invalid"),
    Code.RATE_LIMITED: (429, "Too many requests. Please try again later"),
    Code.INTERNAL: (500, "An internal server error occurred"),
    Code.MISSING_FIELDS: (400, "Required fields are missing"),
    Code.INVALID_INPUT: (400, "One or more fields are invalid"),
    Code.INVALID_SESSION: (401, "Invalid session"),
    Code.SESSION_EXPIRED: (401, "Session has expired"),
    Code.LOGIN_REQUIRED: (401, "You must be logged in to do this"),
    Code.OWNER_NOT_FOUND: (404, "Owner not found"),
    Code.APP_NOT_FOUND: (404, "Application not found"),
    Code.INVALID_SECRET: (401, "Invalid application secret"),
    Code.APP_DISABLED: (403, "This application is disabled"),
    Code.HASH_REQUIRED: (400, "Application hash is required"),
    Code.INVALID_HASH: (401, "This build of the application is not allowed"),
    Code.UPDATE_REQUIRED: (426, "A new version is available. Please update to continue"),
    Code.VERSION_MISMATCH: (426, "This version does not match the server version"),
    Code.IP_BLOCKED: (403, "Your IP address is blocked"),
    Code.VPN_BLOCKED: (403, "VPN and proxy connections are not allowed"),
    Code.COUNTRY_BLOCKED: (403, "Access from your country is not allowed"),
    Code.SID_BLOCKED: (403, "This system is blocked"),
    Code.SID_NOT_WHITELISTED: (403, "This system is not whitelisted"),
    Code.USER_NOT_FOUND: (404, "User not found"),
    Code.INVALID_PASSWORD: (401, "Invalid password"),
    Code.USER_BANNED: (403, "This account is banned"),
    Code.USER_SUSPENDED: (403, "This account is suspended"),
    Code.USER_EXPIRED: (403, "Your subscription has expired"),
    Code.DEVICE_LIMIT_REACHED: (403, "Device limit reached"),
    Code.USERNAME_TAKEN: (409, "Username is already taken"),
    Code.PASSWORD_REUSED: (400, "The new password must differ from the current password"),
    Code.PASSWORD_CHANGE_UNAVAILABLE: (403, "Password change is disabled for this app"),
    Code.LICENSE_NOT_FOUND: (404, "License key not found"),
    Code.LICENSE_IN_USE: (403, "This license key is already in use"),
    Code.LICENSE_BANNED: (403, "This license key is banned"),
    Code.LICENSE_PAUSED: (403, "This license key is paused"),
    Code.LICENSE_EXPIRED: (403, "This license key has expired"),
    Code.INVALID_DURATION: (422, "This license key has no duration to apply"),
    Code.INVALID_DEVICE_TYPE: (400, "Device type must be motherboard or processor"),
    Code.MOTHERBOARD_NOT_FOUND: (404, "Motherboard not found"),
    Code.PROCESSOR_NOT_FOUND: (404, "Processor not found"),
    Code.MOTHERBOARD_BANNED: (403, "This motherboard is banned"),
    Code.PROCESSOR_BANNED: (403, "This processor is banned"),
    Code.MOTHERBOARD_PAUSED: (403, "This motherboard is paused"),
    Code.PROCESSOR_PAUSED: (403, "This processor is paused"),
    Code.MOTHERBOARD_EXPIRED: (403, "This motherboard has expired"),
    Code.PROCESSOR_EXPIRED: (403, "This processor has expired"),
    Code.VARIABLE_NOT_FOUND: (404, "Variable not found"),
    Code.VARIABLE_READ_ONLY: (403, "This variable is read-only"),
    Code.CHANNEL_NOT_FOUND: (404, "Chat channel not found"),
    Code.USERNAME_NOT_LINKED: (403, "You must be logged in with a user account to chat"),
    Code.USER_MUTED: (403, "You are muted in this channel"),
    Code.TICKETS_DISABLED: (403, "Offline tickets are not enabled for this application"),
    Code.INVALID_TICKET: (401, "The ticket is invalid"),
    Code.TICKET_EXPIRED: (401, "The ticket has expired"),
}

#: Codes whose message an app may never override.
SYSTEM_ONLY: frozenset[Code] = frozenset({Code.OWNER_NOT_FOUND, Code.INTERNAL})

#: Default success message of each canonical endpoint (custom key `OK.<endpoint>`).
SUCCESS_MESSAGES: dict[str, str] = {
    "init": "Init success",
    "login": "Login success",
    "licenses": "Login success",
    "register": "User registered successfully",
    "extend": "Account extended successfully.",
    "change-password": "Password changed successfully",
    "device-auth": "Device authentication successful",
    "variables": "Variable retrieved successfully",
    "variables/set": "Variable updated successfully",
    "logs": "Log saved successfully",
    "chats/get": "Messages retrieved successfully",
    "chats/send": "Message sent successfully",
    "validate-session": "Session is valid",
    "blacklist/check": "Login success",
    "ticket": "Ticket issued",
    "ticket/check": "Ticket is valid",
}


def http_status(code: Code) -> int:
    return _TABLE[code][0]


def default_message(code: Code) -> str:
    return _TABLE[code][1]


def all_codes() -> list[Code]:
    return list(_TABLE)
