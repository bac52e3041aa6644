"""`change-password` (2.6)."""

from __future__ import annotations

from typing import Any

import pytest

from licentia.services import admin_identities
from tests.api.conftest import Api, expect_error, expect_ok


def body_of(session: str, old: str = "pw-mara", new: str = "pw-new") -> dict[str, Any]:
    return {"session_id": session, "old_password": old, "new_password": new}


async def test_success(api: Api) -> None:
    session, _, _ = await api.register("mara", "pw-mara")
    body = expect_ok(await api.post("change-password", body_of(session)), "change-password")
    assert set(body) == {"code", "message", "success"}
    other = await api.init()
    r = await api.post(
        "login", {"session_id": other, "username": "mara", "password": "pw-mara", "sid": "SID-A"}
    )
    expect_error(r, "INVALID_PASSWORD")
    await api.login("mara", "pw-new", session=other)
    expect_ok(await api.post("validate-session", {"session_id": session}), "validate-session")


async def test_new_password_is_used_as_sent(api: Api) -> None:
    session, _, _ = await api.register("mara", "pw-mara")
    expect_ok(
        await api.post("change-password", body_of(session, new=" spaced ")), "change-password"
    )
    await api.login("mara", " spaced ")
    r = await api.post(
        "login", {"session_id": session, "username": "mara", "password": "spaced", "sid": "SID-A"}
    )
    expect_error(r, "INVALID_PASSWORD")


async def test_password_change_unavailable(api: Api) -> None:
    session, _, _ = await api.register("mara", "pw-mara")
    plain = await api.init()
    await api.set("allow_password_change", False)
    expect_error(await api.post("change-password", body_of(session)), "PASSWORD_CHANGE_UNAVAILABLE")
    # Step 13 comes before the user lookup.
    expect_error(await api.post("change-password", body_of(plain)), "PASSWORD_CHANGE_UNAVAILABLE")


@pytest.mark.parametrize("identity", ["none", "license", "device"])
async def test_no_user_on_the_session(api: Api, identity: str) -> None:
    session = await api.init()
    if identity == "license":
        await api.activate(await api.key(), session=session)
    elif identity == "device":
        await api.device("motherboard", "MB-1")
        r = await api.post(
            "device-auth",
            {"session_id": session, "device_type": "motherboard", "device_id": "MB-1"},
        )
        expect_ok(r, "device-auth")
    expect_error(await api.post("change-password", body_of(session)), "USER_NOT_FOUND")


async def test_invalid_password(api: Api) -> None:
    session, _, _ = await api.register("mara", "pw-mara")
    expect_error(
        await api.post("change-password", body_of(session, old="PW-MARA")), "INVALID_PASSWORD"
    )
    # The old password is checked before reuse.
    expect_error(
        await api.post("change-password", body_of(session, old="nope", new="pw-mara")),
        "INVALID_PASSWORD",
    )


async def test_password_reused(api: Api) -> None:
    session, _, _ = await api.register("mara", "pw-mara")
    r = await api.post("change-password", body_of(session, new="pw-mara"))
    expect_error(r, "PASSWORD_REUSED")


@pytest.mark.parametrize(("action", "code"), [("ban", "USER_BANNED"), ("pause", "USER_SUSPENDED")])
async def test_state_changed_during_the_request(
    api: Api, monkeypatch: pytest.MonkeyPatch, action: str, code: str
) -> None:
    session, _, _ = await api.register("mara", "pw-mara")
    passwords = api.rt.passwords
    real_verify = passwords.verify
    acted = False

    async def verify_then_act(stored: str | None, password: str) -> bool:
        nonlocal acted
        result = await real_verify(stored, password)
        if not acted:
            acted = True
            change = admin_identities.ban_user if action == "ban" else admin_identities.pause_user
            await change(api.rt, api.app_id, "mara")
        return result

    monkeypatch.setattr(passwords, "verify", verify_then_act)
    expect_error(
        await api.post("change-password", body_of(session, new="pw-mara")), code
    )  # state before reuse


async def test_other_sessions_of_the_user_end(api: Api) -> None:
    session, _, _ = await api.register("mara", "pw-mara")
    second = await api.login("mara", "pw-mara")
    third = await api.login("mara", "pw-mara")
    await api.user("tom", "pw")
    toms = await api.login("tom", "pw", sid="SID-T")
    plain = await api.init()
    expect_ok(await api.post("change-password", body_of(second)), "change-password")
    expect_ok(await api.post("validate-session", {"session_id": second}), "validate-session")
    for ended in (session, third):
        expect_error(await api.post("validate-session", {"session_id": ended}), "SESSION_EXPIRED")
        assert (await api.session_row(ended)).ended_at is not None
    for alive in (toms, plain):
        expect_ok(await api.post("validate-session", {"session_id": alive}), "validate-session")


async def test_failed_change_ends_nothing(api: Api) -> None:
    session, _, _ = await api.register("mara", "pw-mara")
    second = await api.login("mara", "pw-mara")
    expect_error(
        await api.post("change-password", body_of(session, old="wrong")), "INVALID_PASSWORD"
    )
    expect_error(
        await api.post("change-password", body_of(session, new="pw-mara")), "PASSWORD_REUSED"
    )
    expect_ok(await api.post("validate-session", {"session_id": second}), "validate-session")


async def test_empty_passwords_are_missing(api: Api) -> None:
    session, _, _ = await api.register("mara", "pw-mara")
    r = await api.post(
        "change-password", {"session_id": session, "old_password": "", "new_password": ""}
    )
    expect_error(r, "MISSING_FIELDS", fields=["new_password", "old_password"])
