"""No secret reaches any log line (issue #14): every face driven with known secrets, then grep.

A real `licentia serve` runs at `LICENTIA_LOG_LEVEL=trace`, the most verbose level (below
`debug`): access log on, uvicorn's connection lines, and every library's debug output that is
not held back. Every face is driven with unique, known secret strings:

* the client API (`/api/v2`): init (app secret), register, login (right and wrong password),
  licenses, extend, change-password, session ids, and failures that carry credentials
  (truncated JSON, lone surrogates, unknown endpoint, credentials in a query string);
* the REST management API: license keys in paths (known, unknown action), user creation,
  password check and reset, a validation error, a wrong token;
* the Elite Key API: the key as `?key=`, in a JSON body and in `x-elite-key`, passwords and
  license keys as query parameters, a wrong key;
* the dashboard: wrong and right sign-in, a license page and action by key, a key search;
* the portal: wrong and right sign-in with a password and with a license key, password change;
* the CLI: commands with passwords and keys on the command line.

Then the server's stdout and stderr, every `*.log` file in the data folder and the CLI's stderr
are searched for each secret (also percent-encoded and JSON-escaped).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from .serverproc import ServerEnv, cli_prefix

pytestmark = pytest.mark.e2e

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def secret(label: str) -> str:
    return f"Zz{label}{secrets.token_hex(8)}"


class Secrets:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def new(self, label: str) -> str:
        self.values[label] = value = secret(label)
        return value

    def add(self, label: str, value: str) -> str:
        self.values[label] = value
        return value


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


class Setup:
    """Owner, app, keys, token and Elite Key made through the CLI, with known secrets."""

    def __init__(self, env: ServerEnv, s: Secrets) -> None:
        self.env = env
        self.s = s
        self.cli_stderr: list[str] = []
        owner_pw = s.new("OwnerPw")
        self.owner_name = f"logs-owner-{secrets.token_hex(3)}"
        owner = self.cli("owner", "create", "--username", self.owner_name, "--password", owner_pw)
        self.owner_id = str(owner["owner_id"])
        app = self.cli("app", "create", "--owner", self.owner_id, "--name", "LogApp")
        self.app_id, self.app_name = str(app["app_id"]), "LogApp"
        self.app_secret = s.add("AppSecret", str(app["secret"]))
        self.cli("app", "set", self.app_id, "user_panel_enabled", "true")
        self.cli("app", "set", self.app_id, "session_idle_timeout", "3600")
        self.cli(
            "subscription", "create", "--app", self.app_id, "--name", "Premium", "--level", "1"
        )
        self.cli(
            "license", "add", "--app", self.app_id, "--key", s.new("KeyCli"),
            "--subscription", "Premium", "--days", "30",
        )  # fmt: skip
        generated = self.cli(
            "license", "generate", "--app", self.app_id, "--subscription", "Premium",
            "--days", "30", "--count", "5",
        )["keys"]  # fmt: skip
        for label, key in zip(
            ("KeyRegister", "KeyLicense", "KeyExtend", "KeyRest", "KeyDash"), generated, strict=True
        ):
            s.add(label, str(key))
        token = self.cli(
            "token", "create", "--owner", self.owner_id, "--scope", "license:read",
            "--scope", "license:write", "--scope", "user:read", "--scope", "user:write",
        )  # fmt: skip
        self.token = s.add("Token", str(token["token"]))
        self.elite_key = s.add(
            "EliteKey", str(self.cli("elite-key", "rotate", "--owner", self.owner_id)["elite_key"])
        )
        self.cli(
            "user", "create", "--app", self.app_id, "--username", "cli_user",
            "--subscription", "Premium", "--password", s.new("CliUserPw"), "--lifetime",
        )  # fmt: skip

    def cli(self, *args: str, process: bool = False) -> dict[str, Any]:
        """`licentia <args> --json`; with `process`, in a process of its own started with the
        test's LICENTIA_* variables, as an operator runs it (the trace-level commands)."""
        run = self.env.run_process if process else self.env.run
        proc = run(*args, "--json")
        self.cli_stderr.append(proc.stderr)
        value = json.loads(proc.stdout.strip().splitlines()[-1])
        assert isinstance(value, dict)
        return value

    def cli_failing(self, *args: str) -> None:
        """A command expected to fail: its error output is searched too."""
        proc = subprocess.run(
            [*cli_prefix(), *args],
            env=self.env.environ(),
            cwd=self.env.data_dir,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode != 0, proc.stdout
        self.cli_stderr.append(proc.stderr + proc.stdout)


def drive_client(http: httpx.Client, st: Setup, s: Secrets) -> None:
    creds = {"owner_id": st.owner_id, "app_name": st.app_name, "secret": st.app_secret}

    def post(endpoint: str, body: Any, **kw: Any) -> dict[str, Any]:
        r = http.post(f"/api/v2/{endpoint}", json=body, **kw)
        assert r.status_code < 500, r.text
        return r.json()  # type: ignore[no-any-return]

    session = s.add("Session", post("init", {**creds, "version": "1.0.0"})["session_id"])
    user_pw = s.new("UserPw")
    base = {"session_id": session}
    ok = post(
        "register",
        {**base, "username": "log_user", "password": user_pw, "key": s.values["KeyRegister"]},
    )
    assert ok["success"], ok
    wrong = post("login", {**base, "username": "log_user", "password": s.new("WrongPw")})
    assert not wrong["success"], wrong
    good = post("login", {**base, "username": "log_user", "password": user_pw, "sid": "S1"})
    assert good["success"], good
    session2 = s.add("Session2", post("init", {**creds, "version": "1.0.0"})["session_id"])
    lic = {"session_id": session2, "license_key": s.values["KeyLicense"], "sid": "S2"}
    assert post("licenses", lic)["success"]
    post("extend", {**base, "username": "log_user", "license_key": s.values["KeyExtend"]})
    new_pw = s.new("NewUserPw")
    changed = post("change-password", {**base, "old_password": user_pw, "new_password": new_pw})
    assert changed["success"], changed
    post("validate-session", base)
    post("variables/set", {**base, "var_key": "k", "var_value": "v"})
    post("logs", {**base, "message": "hello"})
    # Failures that carry credentials.
    truncated = json.dumps({**base, "username": "log_user", "password": s.new("TruncPw")})[:-3]
    http.post("/api/v2/login", content=truncated.encode())
    surrogate = json.dumps({**base, "username": "x\ud800", "password": s.new("SurrPw")})
    http.post("/api/v2/login", content=surrogate.encode())
    http.post("/api/v2/no-such-endpoint", json={"password": s.new("UnknownPw")})
    http.get(f"/api/v2/login?password={s.new('QueryPw')}&license_key={s.new('QueryKey')}")
    post("licenses", {**lic, "license_key": s.new("UnknownKey")})


def drive_rest(http: httpx.Client, st: Setup, s: Secrets) -> None:
    auth = {"authorization": f"Bearer {st.token}"}
    base = f"/api/manage/v1/apps/{st.app_id}"
    key = s.values["KeyRest"]
    assert http.get(f"{base}/licenses/{key}", headers=auth).status_code == 200
    assert http.post(f"{base}/licenses/{key}/ban", headers=auth, json={}).status_code < 300
    assert http.get(f"{base}/licenses/{key}/no-such-action", headers=auth).status_code >= 400
    assert http.get(f"{base}/licenses/{s.new('RestUnknownKey')}", headers=auth).status_code == 404
    rest_pw = s.new("RestUserPw")
    created = http.post(
        f"{base}/users",
        headers=auth,
        json={"username": "rest_user", "password": rest_pw, "subscription": "Premium"},
    )
    assert created.status_code == 201, created.text
    http.post(
        f"{base}/users/rest_user/verify-password",
        headers=auth,
        json={"password": s.new("RestWrongPw")},
    )
    http.post(
        f"{base}/users/rest_user/reset-password",
        headers=auth,
        json={"new_password": s.new("RestResetPw")},
    )
    bad = http.post(f"{base}/users", headers=auth, json={"password": s.new("Rest422Pw")})
    assert bad.status_code in (400, 422), bad.text
    wrong = {"authorization": f"Bearer {s.new('WrongToken')}"}
    assert http.get(f"{base}/licenses", headers=wrong).status_code == 401


def drive_elite(http: httpx.Client, st: Setup, s: Secrets) -> None:
    ek = st.elite_key
    q = f"/api/elite-key?key={ek}&app_name={st.app_name}"
    assert http.get(f"{q}&function=app&action=list").status_code == 200
    elite_pw = s.new("ElitePw")
    made = http.get(
        f"{q}&function=user&action=generate&username=elite_user&password={elite_pw}"
        "&subscription=Premium"
    )
    assert made.status_code < 300, made.text
    http.get(
        f"{q}&function=user&action=verify_password&username=elite_user"
        f"&password={s.new('EliteWrongPw')}"
    )
    http.get(f"{q}&function=license&action=info&license_key={s.values['KeyLicense']}")
    http.post(
        "/api/elite-key",
        json={
            "key": ek,
            "function": "user",
            "action": "reset_password",
            "username": "elite_user",
            "new_password": s.new("EliteResetPw"),
        },
    )
    assert http.get("/api/elite-key/ping", headers={"x-elite-key": ek}).status_code == 200
    assert http.get(f"/api/elite-key?key={s.new('WrongElite')}&function=ping").status_code == 401


def drive_dashboard(http: httpx.Client, st: Setup, s: Secrets) -> None:
    def form(page: str, action: str, data: dict[str, str]) -> httpx.Response:
        html = http.get("/dashboard" + page).text
        return http.post("/dashboard" + action, data={"csrf_token": csrf_of(html), **data})

    wrong = form("/signin", "/signin", {"username": st.owner_name, "password": s.new("DashWrong")})
    assert wrong.status_code >= 400
    signed = form(
        "/signin", "/signin", {"username": st.owner_name, "password": s.values["OwnerPw"]}
    )
    assert signed.status_code in (302, 303), signed.text
    for name, value in http.cookies.items():
        s.add(f"DashCookie-{name}", value)
    key = s.values["KeyDash"]
    page = http.get(f"/dashboard/apps/{st.app_id}/license/{key}")
    assert page.status_code == 200, page.text
    banned = http.post(
        f"/dashboard/apps/{st.app_id}/licenses/{key}/ban", data={"csrf_token": csrf_of(page.text)}
    )
    assert banned.status_code < 400, banned.text
    http.get(f"/dashboard/apps/{st.app_id}/licenses?q={quote(key)}")


def drive_portal(http: httpx.Client, st: Setup, s: Secrets) -> None:
    root = f"/portal/{st.app_id}"

    def sign_in(data: dict[str, str]) -> httpx.Response:
        html = http.get(f"{root}/signin").text
        return http.post(f"{root}/signin", data={"csrf_token": csrf_of(html), **data})

    user = {"method": "user", "username": "log_user"}
    assert sign_in({**user, "password": s.new("PortalWrong")}).status_code >= 400
    signed = sign_in({**user, "password": s.values["NewUserPw"]})
    assert signed.status_code in (302, 303), signed.text
    for name, value in http.cookies.items():
        s.add(f"PortalCookie-{name}", value)
    home = http.get(root)
    http.post(
        f"{root}/password",
        data={
            "csrf_token": csrf_of(home.text),
            "current_password": s.values["NewUserPw"],
            "new_password": s.new("PortalNewPw"),
        },
    )
    http.cookies.clear()
    assert sign_in({"method": "license", "key": s.new("PortalUnknownKey")}).status_code >= 400
    assert sign_in({"method": "license", "key": s.values["KeyLicense"]}).status_code in (302, 303)


def drive_cli(st: Setup, s: Secrets) -> None:
    st.cli("user", "reset-password", "--app", st.app_id, "cli_user",
           "--password", s.new("CliResetPw"), process=True)  # fmt: skip
    st.cli("license", "info", "--app", st.app_id, s.values["KeyCli"], process=True)
    st.cli_failing("user", "create", "--app", st.app_id, "--username", "cli_user2",
                   "--subscription", "NoSuchSub", "--password", s.new("CliFailPw"))  # fmt: skip
    st.cli_failing("owner", "create", "--username", st.owner_name, "--password", s.new("DupPw"))


def leaks(text: str, values: dict[str, str]) -> list[str]:
    found = []
    for label, value in values.items():
        forms = {value, quote(value, safe=""), json.dumps(value)[1:-1]}
        if any(form in text for form in forms):
            found.append(label)
    return found


def test_no_secret_in_any_log_stream(e2e_env: ServerEnv) -> None:
    s = Secrets()
    st = Setup(e2e_env, s)
    e2e_env.extra.update({"LICENTIA_LOG_LEVEL": "trace", "LICENTIA_ENV": "dev"})
    with e2e_env._spawn() as server:
        server.wait_ready()
        with httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False) as http:
            drive_client(http, st, s)
            drive_rest(http, st, s)
            drive_elite(http, st, s)
        for face in (drive_dashboard, drive_portal):
            with httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False) as http:
                face(http, st, s)
        drive_cli(st, s)
    log = server.log_path.read_bytes().decode("utf-8", errors="replace")
    streams = {"server": log, "cli stderr": "\n".join(st.cli_stderr)}
    for path in Path(e2e_env.data_dir).rglob("*.log"):
        streams[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    found = {name: leaks(text, s.values) for name, text in streams.items()}
    assert not any(found.values()), found
    # The access log is on and shows what was asked, without the secrets.
    assert '"POST /api/v2/login HTTP/1.1" 200' in log, log[-3000:]
    assert f"/api/manage/v1/apps/{st.app_id}/licenses/{{key}}/ban" in log
    assert "/api/elite-key?key=[redacted]" in log and "password=[redacted]" in log
