"""`licentia db copy`: a vendor moves SQLite -> PostgreSQL -> SQLite and the official AuthlyX
SDK (PyPI `authlyx-api`, unmodified, signed responses required) logs in before and after
with the same owner id, app secret and signing public key, so shipped builds keep working.

Without `LICENTIA_TEST_DATABASE_URL` the middle database is a second SQLite file.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from authlyx_api import Auth

from .serverproc import (
    CliError,
    ServerEnv,
    create_postgres_database,
    drop_postgres_database,
    postgres_admin_url,
    sqlite_url,
)

pytestmark = pytest.mark.e2e

APP_NAME = "MoveApp"
VERSION = "1.0.0"


@pytest.fixture
def middle_url(tmp_path: Path) -> Iterator[str]:
    admin_url = postgres_admin_url()
    if admin_url is None:
        yield sqlite_url(tmp_path / "middle.db")
        return
    url, name = create_postgres_database(admin_url)
    try:
        yield url
    finally:
        drop_postgres_database(admin_url, name)


def _login(base_url: str, owner_id: str, secret: str, pem: str, key: str) -> dict[str, str]:
    auth = Auth(
        owner_id,
        APP_NAME,
        VERSION,
        secret,
        debug=False,
        api=f"{base_url}/api/v2",
        serverPublicKeyPem=pem,
        requireSignedResponses=True,
        anti_debug=False,
    )
    auth._get_public_ip = lambda: ""  # stay on 127.0.0.1 (see tests/e2e/test_sdk.py)
    assert auth.Init() is True, auth.response
    assert auth.LicenseLogin(key) is True, auth.response
    assert auth.ValidateSession() is True, auth.response
    assert auth.response["code"] == "OK", auth.response
    return {"kid": str(auth.response["signature_kid"]), "key": auth.userData["LicenseKey"]}


def _env(tmp_path: Path, name: str, url: str, master_key: bytes | None) -> ServerEnv:
    data_dir = tmp_path / name
    data_dir.mkdir()
    if master_key is not None:  # the copy's secrets stay encrypted under the same key
        (data_dir / "master.key").write_bytes(master_key)
        (data_dir / "master.key").chmod(0o600)
    return ServerEnv(data_dir=data_dir, database_url=url)


# SQLite -> PostgreSQL -> SQLite is the PostgreSQL pass's; in the SQLite pass the middle
# database would be SQLite too, and tests/store/test_copy.py checks that copy value for value.
@pytest.mark.postgres_pass
def test_sqlite_to_postgres_to_sqlite_keeps_shipped_builds_working(
    tmp_path: Path, middle_url: str
) -> None:
    first = _env(tmp_path, "first", sqlite_url(tmp_path / "first" / "licentia.db"), None)
    run = first.run_json
    owner_id = str(
        run("owner", "create", "--username", "mover", "--password", "Pw-123456")["owner_id"]
    )
    made = run("app", "create", "--owner", owner_id, "--name", APP_NAME)
    app_id, secret = str(made["app_id"]), str(made["secret"])
    run("subscription", "create", "--app", app_id, "--name", "Premium")
    key = run("license", "generate", "--app", app_id, "--subscription", "Premium", "--lifetime")[
        "keys"
    ][0]
    pem = first.run("signing-key", "show", "--pem").stdout.strip() + "\n"
    with first.serve() as base_url:
        before = _login(base_url, owner_id, secret, pem, str(key))
    master_key = (first.data_dir / "master.key").read_bytes()

    copied = run("db", "copy", "--to", middle_url, "--with-sessions")
    assert copied["verified"] is True and copied["tables"]["licenses"] == 1, copied
    assert copied["tables"]["sessions"] >= 1 and copied["skipped"] == [], copied
    # A second copy into the now filled target is refused and changes nothing.
    with pytest.raises(CliError, match="TARGET_NOT_EMPTY"):
        run("db", "copy", "--to", middle_url)

    middle = _env(tmp_path, "middle", middle_url, master_key)
    assert middle.run_json("signing-key", "show")["kid"] == before["kid"]
    with middle.serve() as base_url:
        assert _login(base_url, owner_id, secret, pem, str(key)) == before
    # New rows get fresh ids after the copied ones (PostgreSQL sequences were moved on).
    middle.run_json("app", "create", "--owner", owner_id, "--name", "AfterMove")

    last_url = sqlite_url(tmp_path / "last.db")
    back = middle.run_json("db", "copy", "--to", last_url)
    assert back["skipped"] == ["sessions", "dashboard_sessions", "portal_sessions"], back
    assert back["tables"]["apps"] == 2 and back["tables"]["audit_log"] >= 1, back
    last = _env(tmp_path, "last", last_url, master_key)
    with last.serve() as base_url:
        assert _login(base_url, owner_id, secret, pem, str(key)) == before
    # The same in reverse, with --from: the first database was not changed by any copy.
    again = _env(tmp_path, "again", sqlite_url(tmp_path / "again.db"), master_key)
    from_first = again.run_json("db", "copy", "--from", first.database_url)
    assert from_first["tables"]["apps"] == 1, from_first


def test_copy_with_the_wrong_master_key_is_refused(tmp_path: Path) -> None:
    first = _env(tmp_path, "first", sqlite_url(tmp_path / "first" / "licentia.db"), None)
    owner = str(
        first.run_json("owner", "create", "--username", "o", "--password", "pw")["owner_id"]
    )
    first.run_json("app", "create", "--owner", owner, "--name", APP_NAME)
    other = _env(tmp_path, "other", sqlite_url(tmp_path / "other.db"), None)
    other.run_json("migrate")  # its own, different master key
    with pytest.raises(CliError, match="MASTER_KEY"):
        other.run_json("db", "copy", "--from", first.database_url)
    shutil.rmtree(other.data_dir)
