"""Master-key safety, staged signing-key rotation and secrets kept off the command line."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.cli.conftest import Installation, parse_one_object


def test_lost_master_key_is_refused_not_replaced(install: Installation) -> None:
    owner = install.json("owner", "create", "--username", "v", "--password", "pw")
    install.json("app", "create", "--owner", owner["owner_id"], "--name", "First")
    key_file = install.data_dir / "master.key"
    original = key_file.read_bytes()
    key_file.unlink()
    body = install.fails(
        "app", "create", "--owner", owner["owner_id"], "--name", "Second", code="MASTER_KEY"
    )
    assert "master key does not match" in body["message"]
    # The wrongly generated key file is removed again, and nothing was written.
    assert not key_file.exists()
    key_file.write_bytes(original)
    names = install.json("app", "create", "--owner", owner["owner_id"], "--name", "Second")
    assert names["app_name"] == "Second"


def test_production_never_generates_a_master_key(install: Installation) -> None:
    install.env["LICENTIA_ENV"] = "production"
    result = install.invoke("signing-key", "show", "--json")
    assert result.exit_code == 1
    assert parse_one_object(result.stdout)["error"] == "MASTER_KEY"
    assert not (install.data_dir / "master.key").exists()


def test_staged_rotation(install: Installation) -> None:
    first = install.json("signing-key", "show")
    pending = install.json("signing-key", "create")
    assert pending["status"] == "pending" and pending["kid"] != first["kid"]
    # Creating a key does not change what the server signs with.
    assert install.json("signing-key", "show")["kid"] == first["kid"]
    listed = {k["kid"]: k["status"] for k in install.json("signing-key", "list")["keys"]}
    assert listed == {first["kid"]: "active", pending["kid"]: "pending"}
    activated = install.json("signing-key", "activate", pending["kid"])
    assert activated["kid"] == pending["kid"] and activated["warnings"]
    listed = {k["kid"]: k["status"] for k in install.json("signing-key", "list")["keys"]}
    assert listed == {first["kid"]: "retired", pending["kid"]: "active"}
    assert install.json("signing-key", "show")["kid"] == pending["kid"]
    install.fails("signing-key", "activate", "0000000000000000", code="SIGNING_KEY_NOT_FOUND")


def test_owner_password_from_stdin_keeps_stdout_one_object(install: Installation) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LICENTIA_")}
    environ.update(install.env)
    done = subprocess.run(
        [sys.executable, "-m", "licentia", "owner", "create", "--username", "piped", "--json"],
        input="from-stdin\n",
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert parse_one_object(done.stdout)["username"] == "piped"
    assert "from-stdin" not in done.stdout + done.stderr


def test_owner_password_required(install: Installation) -> None:
    result = install.subprocess("owner", "create", "--username", "nopw", "--json")
    assert result.returncode == 2
    assert parse_one_object(result.stdout)["error"] == "USAGE"
