"""`variables` / `variables/get` (2.8) and `variables/set` (2.9)."""

from __future__ import annotations

from typing import Any

import pytest

from licentia.services import admin_content
from tests.api.conftest import Api, expect_error, expect_ok, iso


async def var(api: Api, key: str, value: str, **flags: Any) -> None:
    await admin_content.set_variable(api.rt, api.app_id, key, value, **flags)


async def identity_session(api: Api, kind: str) -> str:
    if kind == "none":
        return await api.init()
    if kind == "user":
        session, _, _ = await api.register()
        return session
    if kind == "license":
        session, _ = await api.activate(await api.key())
        return session
    await api.device("processor", "CPU-V")
    session = await api.init()
    r = await api.post(
        "device-auth", {"session_id": session, "device_type": "processor", "device_id": "CPU-V"}
    )
    expect_ok(r, "device-auth")
    return session


@pytest.mark.parametrize("endpoint", ["variables", "variables/get"])
async def test_get_success_shape(api: Api, endpoint: str) -> None:
    written = api.clock.now
    await var(api, "motd", "Welcome back. Servers are up.")
    api.clock.advance(60)
    session = await api.init()
    r = await api.post(endpoint, {"session_id": session, "var_key": " motd "})
    body = expect_ok(r, endpoint)
    assert set(body) == {"code", "message", "success", "variable"}
    assert body["variable"] == {
        "updated_at": iso(written),
        "var_key": "motd",
        "var_value": "Welcome back. Servers are up.",
    }
    for name in (b'"var_key"', b'"var_value"', b'"updated_at"'):
        assert r.content.count(name) == 1  # the C++ SDK searches the whole body


async def test_variable_not_found(api: Api) -> None:
    await var(api, "motd", "x")
    other = await api.other_world()
    await var(other, "theirs", "x")
    session = await api.init()
    for key in ("MOTD", "motd2", "theirs"):
        expect_error(
            await api.post("variables", {"session_id": session, "var_key": key}),
            "VARIABLE_NOT_FOUND",
        )


@pytest.mark.parametrize("kind", ["none", "user", "license", "device"])
async def test_login_required(api: Api, kind: str) -> None:
    await var(api, "secret", "s3", auth_required=True)
    session = await identity_session(api, kind)
    r = await api.post("variables", {"session_id": session, "var_key": "secret"})
    if kind == "none":
        expect_error(r, "LOGIN_REQUIRED")
        r = await api.post("variables", {"session_id": session, "var_key": "unknown"})
        expect_error(r, "VARIABLE_NOT_FOUND")  # the lookup comes first on read
    else:
        assert expect_ok(r, "variables")["variable"]["var_value"] == "s3"


async def test_set_success(api: Api) -> None:
    await var(api, "last_profile", "light", writable=True)
    session = await identity_session(api, "user")
    api.clock.advance(30)
    body = expect_ok(
        await api.post(
            "variables/set",
            {"session_id": session, "var_key": "last_profile", "var_value": "dark-theme"},
        ),
        "variables/set",
    )
    assert set(body) == {"code", "message", "success", "variable"}
    assert body["variable"] == {
        "updated_at": iso(api.clock.now),
        "var_key": "last_profile",
        "var_value": "dark-theme",
    }
    got = expect_ok(
        await api.post("variables", {"session_id": session, "var_key": "last_profile"}), "variables"
    )
    assert got["variable"] == body["variable"]


@pytest.mark.parametrize("kind", ["license", "device"])
async def test_any_identity_may_set(api: Api, kind: str) -> None:
    await var(api, "shared", "a")
    session = await identity_session(api, kind)
    expect_ok(
        await api.post(
            "variables/set", {"session_id": session, "var_key": "shared", "var_value": "b"}
        ),
        "variables/set",
    )


async def test_set_needs_an_identity_first(api: Api) -> None:
    await var(api, "shared", "a")
    session = await api.init()
    for key in ("shared", "unknown"):
        r = await api.post(
            "variables/set", {"session_id": session, "var_key": key, "var_value": "b"}
        )
        expect_error(r, "LOGIN_REQUIRED")


async def test_set_unknown_and_read_only(api: Api) -> None:
    await var(api, "fixed", "a", writable=False)
    session = await identity_session(api, "user")
    r = await api.post(
        "variables/set", {"session_id": session, "var_key": "nothing", "var_value": "b"}
    )
    expect_error(r, "VARIABLE_NOT_FOUND")
    r = await api.post(
        "variables/set", {"session_id": session, "var_key": "fixed", "var_value": "b"}
    )
    expect_error(r, "VARIABLE_READ_ONLY")
    got = expect_ok(
        await api.post("variables", {"session_id": session, "var_key": "fixed"}), "variables"
    )
    assert got["variable"]["var_value"] == "a"


async def test_client_create_variables(api: Api) -> None:
    await api.set("client_create_variables", True)
    session = await identity_session(api, "user")
    r = await api.post(
        "variables/set", {"session_id": session, "var_key": "New_Var-1.x", "var_value": "v"}
    )
    assert expect_ok(r, "variables/set")["variable"]["var_key"] == "New_Var-1.x"
    plain = await api.init()  # created readable without login (auth_required false)
    got = expect_ok(
        await api.post("variables", {"session_id": plain, "var_key": "New_Var-1.x"}), "variables"
    )
    assert got["variable"]["var_value"] == "v"
    r = await api.post(
        "variables/set", {"session_id": session, "var_key": "New_Var-1.x", "var_value": "w"}
    )
    expect_ok(r, "variables/set")  # created writable


@pytest.mark.parametrize("key", ["bad key", "a/b", "caf\u00e9", "a:b", "semi;colon"])
async def test_created_key_characters(api: Api, key: str) -> None:
    await api.set("client_create_variables", True)
    session = await identity_session(api, "user")
    r = await api.post("variables/set", {"session_id": session, "var_key": key, "var_value": "v"})
    expect_error(r, "INVALID_INPUT", fields=["var_key"])
