"""The official AuthlyX Python SDK (PyPI `authlyx-api` 2.2.0), unmodified, against a real server.

Setup goes through the `licentia` CLI exactly as a vendor would do it; then one `licentia serve`
process answers the SDK over HTTP on 127.0.0.1. Every SDK call verifies the Ed25519 response
signature (`requireSignedResponses=True` with the PEM from `licentia signing-key show --pem`),
so a bad signature anywhere shows up as the SDK code `AUTH_INVALID_SIGNATURE` and every code
below is asserted exactly.

Where the SDK keeps its results (authlyx_api/sdk.py):
* `auth.response`: success, code, message, status_code, raw (body text), signature_kid;
* `auth.userData`: Username, Email, LicenseKey, Subscription, SubscriptionLevel (str),
  ExpiryDate, DaysLeft (the SDK's own floor of expiry - now), LastLogin, Hwid, IpAddress,
  RegisteredAt; filled only from the `user{}`, `license{}` and `device{}` objects;
* `auth.variableData`, `auth.updateData`, `auth.chatMessages` (reset by every response that
  lacks `variable{}` / `data{}`, so they are checked right after the call that fills them).

`Login` and `LicenseLogin` call `blacklist/check` after a successful login and overwrite
`auth.response` with its answer (spec 2.14), so after them `response` is the blacklist result.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from authlyx_api import Auth
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .serverproc import ServerEnv

pytestmark = pytest.mark.e2e

VERSION = "1.0.0"
APP_NAME = "E2E-App"
CHANNEL = "general"
USERNAME = "e2e_alice"
PASSWORD = "Correct-Horse-1"
NEW_PASSWORD = "Battery-Staple-2"
EMAIL = "alice@example.com"
DEVICE_ID = "E2E-MB-0001"
LIFETIME_EXPIRY = "9999-12-31T23:59:59Z"
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
TEST_TIMEOUT = 60  # seconds per test; each one normally takes well under one


class SdkTestTimeout(BaseException):
    """Raised by the watchdog; a BaseException so the SDK's `except Exception` cannot eat it."""


@pytest.fixture(autouse=True)
def watchdog() -> Iterator[None]:
    """Bound each test: the SDK waits up to 30 s per attempt and retries three times."""

    def expire(signum: int, frame: object) -> None:
        raise SdkTestTimeout(f"test exceeded {TEST_TIMEOUT} s (server hung?)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Deployment:
    base_url: str
    pem: str
    kid: str
    owner_id: str
    app_name: str
    secret: str
    register_key: str  # Premium, 30 days: redeemed by `register`
    spare_key: str  # Premium, 30 days: stays unused (USERNAME_TAKEN must not consume it)
    license_key: str  # Premium, lifetime: used by `licenses`
    extend_key: str  # Ultimate, 10 days: applied by `extend`

    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v2"


@pytest.fixture(scope="module")
def deployment(e2e_env: ServerEnv) -> Iterator[Deployment]:
    run = e2e_env.run_json
    owner = run("owner", "create", "--username", "e2e-owner", "--password", "Owner-Pass-123")
    owner_id = str(owner["owner_id"])
    assert re.fullmatch(r"\d{8}", owner_id), owner

    app = run("app", "create", "--owner", owner_id, "--name", APP_NAME)
    app_id, secret = str(app["app_id"]), str(app["secret"])
    assert app["app_name"] == APP_NAME, app
    assert re.fullmatch(r"[0-9a-f]{64}", secret), app
    run("app", "set", app_id, "latest_version", VERSION)
    run("app", "set", app_id, "session_idle_timeout", "3600")

    run("subscription", "create", "--app", app_id, "--name", "Premium", "--level", "2")
    run("subscription", "create", "--app", app_id, "--name", "Ultimate", "--level", "3")
    thirty = run(
        "license",
        "generate",
        "--app",
        app_id,
        "--subscription",
        "Premium",
        "--days",
        "30",
        "--count",
        "2",
    )["keys"]
    lifetime = run(
        "license",
        "generate",
        "--app",
        app_id,
        "--subscription",
        "Premium",
        "--lifetime",
    )["keys"]
    ten = run(
        "license",
        "generate",
        "--app",
        app_id,
        "--subscription",
        "Ultimate",
        "--days",
        "10",
    )["keys"]
    assert isinstance(thirty, list) and len(thirty) == 2, thirty
    assert isinstance(lifetime, list) and len(lifetime) == 1, lifetime
    assert isinstance(ten, list) and len(ten) == 1, ten

    run(
        "device",
        "create",
        "--app",
        app_id,
        "--type",
        "motherboard",
        "--id",
        DEVICE_ID,
        "--subscription",
        "Premium",
        "--days",
        "30",
    )
    run(
        "variable",
        "set",
        "--app",
        app_id,
        "--key",
        "motd",
        "--value",
        "Welcome to E2E",
        "--read-only",
    )
    run("variable", "set", "--app", app_id, "--key", "counter", "--value", "0")
    run(
        "variable",
        "set",
        "--app",
        app_id,
        "--key",
        "members_only",
        "--value",
        "inner circle",
        "--auth-required",
    )
    run("channel", "create", "--app", app_id, "--name", CHANNEL, "--send-delay", "0")

    pem = e2e_env.run("signing-key", "show", "--pem").stdout.strip() + "\n"
    key_info = run("signing-key", "show")
    assert "BEGIN PUBLIC KEY" in pem, pem
    assert str(key_info["pem"]).strip() == pem.strip(), key_info
    kid = str(key_info["kid"])
    assert re.fullmatch(r"[0-9a-f]{16}", kid), key_info

    with e2e_env.serve() as base_url:
        yield Deployment(
            base_url=base_url,
            pem=pem,
            kid=kid,
            owner_id=owner_id,
            app_name=APP_NAME,
            secret=secret,
            register_key=str(thirty[0]),
            spare_key=str(thirty[1]),
            license_key=str(lifetime[0]),
            extend_key=str(ten[0]),
        )


# -- helpers ------------------------------------------------------------------------------


def make_auth(
    d: Deployment,
    *,
    pem: str | None = None,
    secret: str | None = None,
    app_name: str | None = None,
    version: str = VERSION,
) -> Auth:
    auth = Auth(
        d.owner_id,
        app_name or d.app_name,
        version,
        secret or d.secret,
        debug=False,
        api=d.api,
        serverPublicKeyPem=pem or d.pem,
        requireSignedResponses=True,
        anti_debug=False,
    )
    # The SDK looks up its public IP at https://api.ipify.org (10 s timeout) for the `ip` body
    # field and after every response whose profile carries no ip_address. These tests must not
    # leave 127.0.0.1, and a resolver that times out instead of failing fast would stall each
    # call. "" is exactly what the SDK itself sends when the lookup fails (as it does, within
    # milliseconds, in the offline CI sandbox), and the server treats the body `ip` as advisory
    # only (spec 0.5/0.9). Nothing else in the SDK is altered.
    auth._get_public_ip = lambda: ""
    return auth


def expect(
    auth: Auth,
    d: Deployment,
    *,
    success: bool,
    code: str,
    status: int,
    message: str | None = None,
) -> dict[str, Any]:
    """Assert the SDK's stored result; return the parsed response body."""
    r = auth.response
    assert (r["success"], r["code"], r["status_code"]) == (success, code, status), r
    if message is not None:
        assert r["message"] == message, r
    assert r["signature_kid"] == d.kid, r
    body = json.loads(r["raw"])
    assert isinstance(body, dict), r
    return body


def parse_date(value: str) -> datetime:
    assert DATE_RE.fullmatch(value), value
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def assert_near(value: str, expected: datetime, slack: timedelta = timedelta(minutes=2)) -> None:
    assert abs(parse_date(value) - expected) <= slack, (value, expected)


def now() -> datetime:
    return datetime.now(UTC)


def init(d: Deployment) -> Auth:
    auth = make_auth(d)
    assert auth.Init() is True, auth.response
    body = expect(auth, d, success=True, code="OK", status=200, message="Init success")
    assert re.fullmatch(r"[0-9a-f]{64}", auth.sessionId), auth.sessionId
    assert body["session_id"] == auth.sessionId
    assert body["version"] == VERSION  # root version echoes the client's own (spec 2.1)
    assert "update" not in body, body
    assert auth.IsInitialized()
    assert auth.updateData["Available"] is False
    return auth


# -- tests --------------------------------------------------------------------------------


def test_public_key_endpoint_matches_cli(deployment: Deployment) -> None:
    with httpx.Client(trust_env=False, timeout=10) as client:
        response = client.get(f"{deployment.api}/public-key")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["code"] == "OK", body
    assert body["algorithm"] == "Ed25519"
    assert body["kid"] == deployment.kid
    assert body["pem"].strip() == deployment.pem.strip()
    assert "x-v2-signature" not in response.headers  # 2.15: the success answer is unsigned


def test_init_errors_are_signed(deployment: Deployment) -> None:
    d = deployment
    auth = make_auth(d, secret="0" * 64)
    assert auth.Init() is False
    expect(
        auth,
        d,
        success=False,
        code="INVALID_SECRET",
        status=401,
        message="Invalid application secret",
    )
    assert auth.sessionId == "" and not auth.IsInitialized()

    auth = make_auth(d, app_name="No-Such-App")
    assert auth.Init() is False
    expect(
        auth, d, success=False, code="APP_NOT_FOUND", status=404, message="Application not found"
    )

    # Older than latest_version, no rule: hard block with update{} (the SDK prints a notice;
    # no download URL is configured, so it never prompts on stdin).
    auth = make_auth(d, version="0.9.0")
    assert auth.Init() is False
    body = expect(auth, d, success=False, code="UPDATE_REQUIRED", status=426)
    assert body["update"]["force_update"] is True, body
    assert auth.updateData["Available"] is True
    assert auth.updateData["ForceUpdate"] is True
    assert auth.updateData["LatestVersion"] == VERSION

    # Newer than latest_version: a build the vendor never published.
    auth = make_auth(d, version="9.9.9")
    assert auth.Init() is False
    expect(auth, d, success=False, code="VERSION_MISMATCH", status=426)


def test_wrong_public_key_fails_signature_check(deployment: Deployment) -> None:
    other_pem = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    auth = make_auth(deployment, pem=other_pem)
    assert auth.Init() is False
    r = auth.response
    assert (r["success"], r["code"], r["status_code"]) == (False, "AUTH_INVALID_SIGNATURE", 200), r
    assert auth.sessionId == "" and not auth.IsInitialized()


def test_user_lifecycle(deployment: Deployment) -> None:
    d = deployment
    auth = init(d)
    session_id = auth.sessionId

    # -- register -------------------------------------------------------------------------
    assert auth.Register(USERNAME, PASSWORD, d.register_key, EMAIL) is True, auth.response
    body = expect(
        auth, d, success=True, code="OK", status=200, message="User registered successfully"
    )
    assert auth.sessionId == session_id  # the id never changes (spec 1.1)
    registered_at = now()
    u = auth.userData
    assert u["Username"] == USERNAME
    assert u["Email"] == EMAIL
    assert u["Subscription"] == "Premium"
    assert u["SubscriptionLevel"] == "2"
    assert_near(u["ExpiryDate"], registered_at + timedelta(days=30))
    assert u["DaysLeft"] in (29, 30)  # the SDK floors; the server's days_left is 30
    assert_near(u["LastLogin"], registered_at)
    assert_near(u["RegisteredAt"], registered_at)
    assert body["days_left"] == 30 and body["lifetime"] is False, body
    assert body["user"]["linked_license_key"] == d.register_key, body
    assert body["license_key"] == d.register_key, body  # root copy (2.0.4)
    first_expiry = parse_date(u["ExpiryDate"])

    # The key is consumed; the username is taken (case-insensitively) and a failed
    # registration leaves the spare key unused.
    other = init(d)
    assert other.Register("e2e_bob", PASSWORD, d.register_key) is False
    expect(
        other,
        d,
        success=False,
        code="LICENSE_IN_USE",
        status=403,
        message="This license key is already in use",
    )
    assert other.Register(USERNAME.upper(), PASSWORD, d.spare_key) is False
    expect(
        other,
        d,
        success=False,
        code="USERNAME_TAKEN",
        status=409,
        message="Username is already taken",
    )

    # -- login (second session) -----------------------------------------------------------
    second = init(d)
    assert second.Login(USERNAME, PASSWORD) is True, second.response
    # `response` now holds the automatic blacklist/check answer (spec 2.14).
    body = expect(second, d, success=True, code="OK", status=200, message="Login success")
    assert body["blacklisted"] is False, body
    assert second.userData["Username"] == USERNAME
    assert second.userData["Subscription"] == "Premium"
    assert parse_date(second.userData["ExpiryDate"]) == first_expiry

    # -- extend ---------------------------------------------------------------------------
    assert auth.ExtendTime(USERNAME, d.extend_key) is True, auth.response
    body = expect(
        auth, d, success=True, code="OK", status=200, message="Account extended successfully."
    )
    assert body["time_added_seconds"] == 10 * 86400, body
    assert "session_id" not in body, body
    u = auth.userData
    assert u["Username"] == USERNAME
    assert u["Subscription"] == "Ultimate"
    assert u["SubscriptionLevel"] == "3"
    assert parse_date(u["ExpiryDate"]) == first_expiry + timedelta(days=10)
    assert u["DaysLeft"] in (39, 40)
    assert u["LicenseKey"] == d.extend_key  # the SDK takes it from the extend license{}
    other = init(d)
    assert other.ExtendTime(USERNAME, d.extend_key) is False
    expect(other, d, success=False, code="LICENSE_IN_USE", status=403)

    # -- change password ------------------------------------------------------------------
    assert auth.ChangePassword("wrong-old-password", NEW_PASSWORD) is False
    expect(auth, d, success=False, code="INVALID_PASSWORD", status=401, message="Invalid password")
    assert auth.ChangePassword(PASSWORD, PASSWORD) is False
    expect(auth, d, success=False, code="PASSWORD_REUSED", status=400)
    assert auth.ChangePassword(PASSWORD, NEW_PASSWORD) is True, auth.response
    expect(auth, d, success=True, code="OK", status=200, message="Password changed successfully")
    # The user's other live session is ended (spec 2.6 step 7); the calling one stays.
    assert second.ValidateSession() is False
    body = expect(
        second, d, success=False, code="SESSION_EXPIRED", status=401, message="Session has expired"
    )
    assert body["valid"] is False, body

    fresh = init(d)
    assert fresh.Login(USERNAME, PASSWORD) is False
    expect(fresh, d, success=False, code="INVALID_PASSWORD", status=401, message="Invalid password")
    assert fresh.Login(USERNAME, NEW_PASSWORD) is True, fresh.response
    expect(fresh, d, success=True, code="OK", status=200, message="Login success")
    assert fresh.userData["Username"] == USERNAME
    assert fresh.userData["Subscription"] == "Ultimate"
    assert fresh.Login("nobody_here", NEW_PASSWORD) is False
    expect(fresh, d, success=False, code="USER_NOT_FOUND", status=404)

    # -- variables ------------------------------------------------------------------------
    assert auth.GetVariable("motd") == "Welcome to E2E"
    expect(auth, d, success=True, code="OK", status=200, message="Variable retrieved successfully")
    assert auth.variableData["VarKey"] == "motd"
    parse_date(auth.variableData["UpdatedAt"])

    assert auth.SetVariable("counter", "5") is True, auth.response
    expect(auth, d, success=True, code="OK", status=200, message="Variable updated successfully")
    assert auth.variableData["VarKey"] == "counter"
    assert auth.variableData["VarValue"] == "5"
    assert_near(auth.variableData["UpdatedAt"], now())
    assert fresh.GetVariable("counter") == "5"  # visible to every session of the app

    assert auth.SetVariable("motd", "overwritten") is False
    expect(
        auth,
        d,
        success=False,
        code="VARIABLE_READ_ONLY",
        status=403,
        message="This variable is read-only",
    )
    assert auth.GetVariable("motd") == "Welcome to E2E"

    assert auth.GetVariable("no_such_variable") == ""
    expect(
        auth, d, success=False, code="VARIABLE_NOT_FOUND", status=404, message="Variable not found"
    )

    anonymous = init(d)
    assert anonymous.GetVariable("members_only") == ""
    expect(anonymous, d, success=False, code="LOGIN_REQUIRED", status=401)
    assert anonymous.SetVariable("counter", "6") is False
    expect(anonymous, d, success=False, code="LOGIN_REQUIRED", status=401)
    assert auth.GetVariable("members_only") == "inner circle"
    assert anonymous.GetVariable("motd") == "Welcome to E2E"  # no login needed for this one

    # -- log ------------------------------------------------------------------------------
    assert auth.Log("e2e: something worth logging") is True, auth.response
    expect(auth, d, success=True, code="OK", status=200, message="Log saved successfully")
    assert anonymous.Log("e2e: logged before login") is True, anonymous.response

    # -- chat -----------------------------------------------------------------------------
    assert auth.SendChat("hello from e2e", CHANNEL) is True, auth.response
    body = expect(auth, d, success=True, code="OK", status=200, message="Message sent successfully")
    first_id = body["data"]["id"]
    assert isinstance(first_id, int), body
    assert body["data"]["username"] == USERNAME, body
    assert auth.SendChat("second message", CHANNEL) is True, auth.response  # send_delay 0

    assert auth.GetChats(CHANNEL) is True, auth.response
    expect(auth, d, success=True, code="OK", status=200, message="Messages retrieved successfully")
    chats = auth.chatMessages
    assert chats["ChannelName"] == CHANNEL
    assert [m["Message"] for m in chats["Messages"]] == ["second message", "hello from e2e"]
    assert {m["Username"] for m in chats["Messages"]} == {USERNAME}
    assert chats["Messages"][1]["Id"] == first_id
    assert chats["Messages"][0]["Id"] > first_id
    assert_near(chats["Messages"][0]["CreatedAt"], now())
    assert chats["Count"] == 2 and chats["HasMore"] is False and chats["NextCursor"] == ""

    # Paging with the opaque cursor, read from a session without a user (no login needed).
    assert anonymous.GetChats(CHANNEL, limit=1) is True, anonymous.response
    page = anonymous.chatMessages
    assert [m["Message"] for m in page["Messages"]] == ["second message"]
    assert page["HasMore"] is True and re.fullmatch(r"[A-Za-z0-9_-]+", page["NextCursor"])
    assert anonymous.GetChats(CHANNEL, limit=1, cursor=page["NextCursor"]) is True
    assert [m["Message"] for m in anonymous.chatMessages["Messages"]] == ["hello from e2e"]

    assert anonymous.SendChat("not logged in", CHANNEL) is False
    expect(anonymous, d, success=False, code="USERNAME_NOT_LINKED", status=403)
    assert auth.SendChat("wrong room", "no-such-channel") is False
    expect(
        auth,
        d,
        success=False,
        code="CHANNEL_NOT_FOUND",
        status=404,
        message="Chat channel not found",
    )

    # -- validate session -----------------------------------------------------------------
    assert auth.ValidateSession() is True, auth.response
    body = expect(auth, d, success=True, code="OK", status=200, message="Session is valid")
    assert body["valid"] is True and body["identity_type"] == "user", body
    assert body["user"]["username"] == USERNAME, body
    assert auth.userData["Username"] == USERNAME
    assert auth.userData["Subscription"] == "Ultimate"

    assert anonymous.ValidateSession() is True, anonymous.response
    body = expect(anonymous, d, success=True, code="OK", status=200)
    assert body["identity_type"] == "none" and "user" not in body, body


def test_license_login(deployment: Deployment) -> None:
    d = deployment
    auth = init(d)
    assert auth.LicenseLogin(d.license_key) is True, auth.response
    body = expect(auth, d, success=True, code="OK", status=200, message="Login success")
    assert body["blacklisted"] is False, body  # the automatic blacklist/check answer
    u = auth.userData
    assert u["LicenseKey"] == d.license_key
    assert u["Username"] == d.license_key  # the SDK shows the key as the name
    assert u["Subscription"] == "Premium"
    assert u["SubscriptionLevel"] == "2"
    assert u["ExpiryDate"] == LIFETIME_EXPIRY
    assert u["DaysLeft"] > 36500
    assert_near(u["LastLogin"], now())

    assert auth.ValidateSession() is True, auth.response
    body = expect(auth, d, success=True, code="OK", status=200, message="Session is valid")
    assert body["identity_type"] == "license", body
    assert body["lifetime"] is True and body["days_left"] == 36500, body
    assert body["license"]["license_key"] == d.license_key, body
    assert body["username"] == d.license_key, body  # root copy

    # A license session is no user: it cannot chat or change a password.
    assert auth.SendChat("hi", CHANNEL) is False
    expect(auth, d, success=False, code="USERNAME_NOT_LINKED", status=403)
    assert auth.ChangePassword("x", "y") is False
    expect(auth, d, success=False, code="USER_NOT_FOUND", status=404)

    # Same machine (same SID) again: the key is active and the SID already bound.
    again = init(d)
    assert again.LicenseLogin(d.license_key) is True, again.response
    # An activated key can no longer be redeemed into an account.
    assert again.Register("e2e_carol", PASSWORD, d.license_key) is False
    expect(again, d, success=False, code="LICENSE_IN_USE", status=403)
    assert again.LicenseLogin("NO-SUCH-KEY") is False
    expect(
        again,
        d,
        success=False,
        code="LICENSE_NOT_FOUND",
        status=404,
        message="License key not found",
    )


def test_device_login(deployment: Deployment) -> None:
    d = deployment
    auth = init(d)
    assert auth.DeviceLogin("motherboard", DEVICE_ID) is True, auth.response
    body = expect(
        auth, d, success=True, code="OK", status=200, message="Device authentication successful"
    )
    assert body["device"]["activated"] is True, body
    assert body["device"]["device_type"] == "motherboard", body
    assert body["device"]["device_id"] == DEVICE_ID, body
    assert body["username"] == DEVICE_ID, body  # root copy
    u = auth.userData
    assert u["Subscription"] == "Premium"
    assert u["SubscriptionLevel"] == "2"
    parse_date(u["ExpiryDate"])
    assert u["DaysLeft"] in (29, 30)
    assert_near(u["LastLogin"], now())
    parse_date(u["RegisteredAt"])

    assert auth.ValidateSession() is True, auth.response
    body = expect(auth, d, success=True, code="OK", status=200)
    assert body["identity_type"] == "device", body

    # Type is lower-cased by the SDK; the id matches case-insensitively (Licentia).
    other = init(d)
    assert other.DeviceLogin("Motherboard", DEVICE_ID.lower()) is True, other.response
    assert other.DeviceLogin("processor", DEVICE_ID) is False
    expect(
        other,
        d,
        success=False,
        code="PROCESSOR_NOT_FOUND",
        status=404,
        message="Processor not found",
    )
    assert other.DeviceLogin("gpu", DEVICE_ID) is False
    expect(other, d, success=False, code="INVALID_DEVICE_TYPE", status=400)
