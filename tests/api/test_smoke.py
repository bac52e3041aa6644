from tests.conftest import World


async def test_init_register_login(world: World) -> None:
    session, key = await world.register("mara", "pw-1", sid="S-1-5-21-1")
    r = await world.post(
        "login",
        {"session_id": session, "username": "MARA", "password": "pw-1", "sid": "S-1-5-21-1"},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["user"]["username"] == "mara"
    assert body["license_key"] == key
