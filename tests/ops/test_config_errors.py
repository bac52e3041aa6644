"""Wrong configuration says what is wrong and where (issue #12 item 6)."""

from __future__ import annotations

import base64
import os
import socket
import stat

from licentia.config import Settings
from licentia.configcheck import describe_database, unknown_variables
from tests.cli.conftest import Installation, parse_one_object


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unknown_variables_are_named_with_the_closest_setting(install: Installation) -> None:
    install.env["LICENTIA_DATA_DIRR"] = "elsewhere"
    install.env["LICENTIA_TEST_SOMETHING"] = "1"  # the suite's own variables are no settings
    result = install.invoke("migrate")
    assert result.exit_code == 0, result.stderr
    assert (
        "warning: unknown setting LICENTIA_DATA_DIRR is ignored; did you mean LICENTIA_DATA_DIR?"
        in result.stderr
    )
    assert "LICENTIA_TEST_SOMETHING" not in result.stderr
    found = unknown_variables({"LICENTIA_REDIS_URI": "x", "LICENTIA_ZZZZZZZZZZZ": "1"})
    assert found == [("LICENTIA_REDIS_URI", "LICENTIA_REDIS_URL"), ("LICENTIA_ZZZZZZZZZZZ", None)]


def test_not_found_names_the_database(install: Installation) -> None:
    result = install.invoke("owner", "info", "12345678", "--json")
    assert result.exit_code == 1
    assert parse_one_object(result.stdout)["error"] == "OWNER_NOT_FOUND"
    assert result.stderr.count("\n") == 1
    assert describe_database(install.url) in result.stderr
    if install.database_url is None:  # the SQLite file did not exist before this command
        assert "created just now" in result.stderr and "LICENTIA_DATA_DIR" in result.stderr
        again = install.invoke("owner", "info", "12345678")
        assert "created just now" not in again.stderr
        assert describe_database(install.url) in again.stderr


def test_postgres_urls_mean_asyncpg(install: Installation) -> None:
    for given in ("postgres://u:p@db:5432/licentia", "postgresql://u:p@db:5432/licentia"):
        url = Settings(database_url=given).resolved_database_url
        assert url == "postgresql+asyncpg://u:p@db:5432/licentia"
    assert Settings(database_url="sqlite:////x/l.db").resolved_database_url == (
        "sqlite+aiosqlite:////x/l.db"
    )
    if install.database_url is not None:  # a real server: the plain form works end to end
        plain = install.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        install.env["LICENTIA_DATABASE_URL"] = plain
        assert install.json("migrate")["migrated"] is True
        install.env["LICENTIA_DATABASE_URL"] = plain.replace("postgresql://", "postgres://", 1)
        assert install.json("owner", "list")["owners"] == []


def test_unreachable_database_names_host_and_port(install: Installation) -> None:
    port = _free_port()
    install.env["LICENTIA_DATABASE_URL"] = f"postgresql://licentia:pw@127.0.0.1:{port}/prod"
    body = install.fails("owner", "list", code="DATABASE_UNREACHABLE")
    assert f"127.0.0.1:{port}" in body["message"] and '"prod"' in body["message"]
    assert "LICENTIA_DATABASE_URL" in body["message"]
    assert "Errno" not in body["message"] and "pw" not in body["message"]
    proc = install.subprocess("migrate")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"127.0.0.1:{port}" in proc.stderr


def test_bad_rate_names_the_form(install: Installation) -> None:
    install.env["LICENTIA_RATE_GENERAL"] = "lots"
    body = install.fails("migrate", code="INVALID_SETTINGS")
    assert "LICENTIA_RATE_GENERAL" in body["message"] and "N/SECONDS" in body["message"]
    assert "int()" not in body["message"] and "Value error" not in body["message"]


def test_new_sqlite_database_is_private(install: Installation) -> None:
    install.json("migrate")
    if install.database_url is None:
        mode = stat.S_IMODE((install.data_dir / "licentia.db").stat().st_mode)
        assert mode & 0o077 == 0, oct(mode)


def _doctor(install: Installation) -> tuple[int, dict[str, dict[str, str]], dict[str, object]]:
    result = install.invoke("doctor", "--json")
    body = parse_one_object(result.stdout)
    by_name: dict[str, dict[str, str]] = {}
    for check in body["checks"]:  # type: ignore[union-attr]
        by_name.setdefault(check["name"], check)
        if check["status"] == "fail":
            by_name[check["name"]] = check
    return result.exit_code, by_name, body


def test_doctor_on_a_fresh_folder_reads_only(install: Installation) -> None:
    code, checks, body = _doctor(install)
    assert code == 1 and body["ok"] is False and body["problems"] >= 1
    if install.database_url is None:
        assert checks["database"]["status"] == "fail"
        assert "does not exist" in checks["database"]["detail"]
        assert not install.data_dir.exists()  # no database, no master key created
    else:
        assert checks["migrations"]["status"] == "fail"
        assert checks["migrations"]["fix"] == "run licentia migrate"
    human = install.invoke("doctor")
    assert human.exit_code == 1 and "problem(s)" in human.stdout


def test_doctor_passes_on_a_set_up_installation(install: Installation) -> None:
    install.json("quickstart", "--no-serve")
    code, checks, body = _doctor(install)
    assert code == 0, body
    for name in ("config", "database", "migrations", "master key", "signing key", "redis"):
        assert checks[name]["status"] == "ok", checks[name]
    assert {"proxy", "files"} <= set(checks)
    if install.database_url is not None:
        assert checks["clock"]["status"] == "ok"


def test_doctor_finds_problems(install: Installation) -> None:
    install.json("quickstart", "--no-serve")
    os.chmod(install.data_dir / "master.key", 0o644)
    install.env["LICENTIA_TRUSTED_PROXIES"] = "10.0.0.1,not-a-network"
    install.env["LICENTIA_REDIS_URL"] = f"redis://127.0.0.1:{_free_port()}/0"
    install.env["LICENTIA_DATA_DIRR"] = "x"
    code, checks, body = _doctor(install)
    assert code == 1
    assert checks["proxy"]["status"] == "fail" and "not-a-network" in checks["proxy"]["detail"]
    assert checks["redis"]["status"] == "fail"
    assert checks["files"]["status"] == "fail" and "chmod 600" in checks["files"]["fix"]
    assert any("LICENTIA_DATA_DIRR" in c["detail"] for c in body["checks"])  # type: ignore[union-attr]
    other = base64.b64encode(b"k" * 32).decode()
    install.env = {k: v for k, v in install.env.items() if k != "LICENTIA_REDIS_URL"}
    install.env["LICENTIA_MASTER_KEY"] = other
    code, checks, _ = _doctor(install)
    assert code == 1 and checks["master key"]["status"] == "fail"
    assert "does not decrypt" in checks["master key"]["detail"]
