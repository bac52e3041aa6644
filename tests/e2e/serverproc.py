"""Run the real `licentia` CLI and real `licentia serve` processes for end-to-end tests.

Everything here talks to the server the way an operator and a client would: the CLI in a
process of its own (one long-lived CLI process per installation, see clishell.py, or
`python -m licentia ...` per command; `--json` output parsed from stdout) and the server over
HTTP on 127.0.0.1. No server code runs in the test process.

Settings reach the processes only through `LICENTIA_*` environment variables (see
`ServerEnv.environ`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

CLI_TIMEOUT = 120.0  # seconds for one CLI command (migrations on a cold PostgreSQL included)
STARTUP_TIMEOUT = 30.0  # seconds until GET /api/v2/public-key must answer 200
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL

TEST_DATABASE_URL_ENV = "LICENTIA_TEST_DATABASE_URL"


class CliError(AssertionError):
    """A CLI command exited non-zero or did not print the JSON it promised."""


class ServerStartError(AssertionError):
    """A `licentia serve` process died or did not become ready in time."""


def cli_prefix() -> list[str]:
    """argv prefix that runs the `licentia` CLI of the interpreter running the tests.

    `python -m licentia` is preferred (no PATH or pyenv-shim dependence); the console script
    installed next to the interpreter is the fallback.
    """
    if importlib.util.find_spec("licentia.__main__") is not None:
        return [sys.executable, "-m", "licentia"]
    script = Path(sys.executable).with_name("licentia")
    if script.exists():
        return [str(script)]
    found = shutil.which("licentia")
    if found:
        return [found]
    raise CliError("neither `python -m licentia` nor a `licentia` console script is available")


def _tail(text: str, limit: int = 6000) -> str:
    return text if len(text) <= limit else "...\n" + text[-limit:]


@dataclass
class ServerEnv:
    """One isolated Licentia installation: a data directory and a database URL."""

    data_dir: Path
    database_url: str
    extra: dict[str, str] = field(default_factory=dict)
    _shell: CliShell | None = field(default=None, init=False, repr=False, compare=False)

    def environ(self) -> dict[str, str]:
        env = dict(os.environ)
        # Never let a developer's own settings leak into the child processes.
        for name in list(env):
            if name.startswith("LICENTIA_") and name != TEST_DATABASE_URL_ENV:
                del env[name]
        env.update(
            {
                "LICENTIA_DATA_DIR": str(self.data_dir),
                "LICENTIA_DATABASE_URL": self.database_url,
                # Rate limits off: the tests fire far more requests from 127.0.0.1 than the
                # defaults allow.
                "LICENTIA_RATE_GENERAL": "0",
                "LICENTIA_RATE_CREDENTIALS": "0",
                "LICENTIA_RATE_IDENTITY": "0",
                # Cheap argon2id so registrations and logins stay fast.
                "LICENTIA_ARGON2_MEMORY_KIB": "64",
                "LICENTIA_ARGON2_TIME_COST": "1",
                "PYTHONUNBUFFERED": "1",
                # Only 127.0.0.1 is ever contacted; make sure no proxy is put in between.
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        env.update(self.extra)
        return env

    # -- CLI -----------------------------------------------------------------------------

    def run(self, *args: str, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run `licentia <args>`; raise CliError (with stdout and stderr) on a non-zero exit.

        The command runs in this installation's long-lived CLI process (tests/e2e/clishell.py:
        the same CLI code, one command at a time, without paying the interpreter and import
        start-up per command); `run_process` starts a process of its own instead."""
        if self._shell is None:
            self._shell = CliShell(self.data_dir, self.environ())
        try:
            proc = self._shell.run(list(args), self.environ(), timeout)
        except subprocess.TimeoutExpired as exc:
            self.close()
            raise CliError(
                f"`licentia {' '.join(args)}` did not finish within {timeout} s"
            ) from exc
        return self._checked(args, proc)

    def run_process(
        self, *args: str, timeout: float = CLI_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run `licentia <args>` as a process of its own (`python -m licentia ...`)."""
        argv = [*cli_prefix(), *args]
        try:
            proc = subprocess.run(
                argv,
                env=self.environ(),
                cwd=self.data_dir,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise CliError(
                f"`licentia {' '.join(args)}` did not finish within {timeout} s\n"
                f"stdout:\n{_tail(str(exc.stdout or ''))}\nstderr:\n{_tail(str(exc.stderr or ''))}"
            ) from None
        return self._checked(args, proc)

    @staticmethod
    def _checked(
        args: tuple[str, ...], proc: subprocess.CompletedProcess[str]
    ) -> subprocess.CompletedProcess[str]:
        if proc.returncode != 0:
            raise CliError(
                f"`licentia {' '.join(args)}` exited with {proc.returncode}\n"
                f"stdout:\n{_tail(proc.stdout)}\nstderr:\n{_tail(proc.stderr)}"
            )
        return proc

    def close(self) -> None:
        """Stop this installation's CLI process (a later `run` starts a new one)."""
        if self._shell is not None:
            self._shell.close()
            self._shell = None

    def run_json(self, *args: str, timeout: float = CLI_TIMEOUT) -> dict[str, object]:
        """Run `licentia <args> --json` and return the one JSON object it prints on stdout."""
        if "--json" not in args:
            args = (*args, "--json")
        proc = self.run(*args, timeout=timeout)
        out = proc.stdout.strip()
        try:
            value = json.loads(out)
        except json.JSONDecodeError:
            # Tolerate stray lines (e.g. a log line) before the JSON object: take the last
            # line that parses as an object.
            value = None
            for line in reversed(out.splitlines()):
                line = line.strip()
                if line.startswith("{"):
                    with contextlib.suppress(json.JSONDecodeError):
                        value = json.loads(line)
                        break
        if not isinstance(value, dict):
            raise CliError(
                f"`licentia {' '.join(args)}` did not print one JSON object\n"
                f"stdout:\n{_tail(proc.stdout)}\nstderr:\n{_tail(proc.stderr)}"
            )
        return value

    # -- server --------------------------------------------------------------------------

    @contextlib.contextmanager
    def serve(self, *, workers: int | None = None) -> Iterator[str]:
        """Start `licentia serve` on a free port; yield its base URL (`http://127.0.0.1:P`)."""
        with self._spawn(workers=workers) as server:
            server.wait_ready()
            yield server.base_url

    def serve_many(self, count: int, stack: contextlib.ExitStack) -> list[ServerProcess]:
        """Start `count` servers on the same database at once; return them when all are ready.

        They are spawned together (so their start-up work runs concurrently, as with
        `--workers`) and then waited for one by one. `stack` owns them.
        """
        servers = [stack.enter_context(self._spawn()) for _ in range(count)]
        for server in servers:
            server.wait_ready()
        return servers

    @contextlib.contextmanager
    def _spawn(self, *, workers: int | None = None) -> Iterator[ServerProcess]:
        port = free_port()
        argv = [*cli_prefix(), "serve", "--host", "127.0.0.1", "--port", str(port)]
        if workers is not None:
            argv += ["--workers", str(workers)]
        log = tempfile.NamedTemporaryFile(  # closed in the finally below
            mode="w+b",
            prefix=f"licentia-serve-{port}-",
            suffix=".log",
            dir=self.data_dir,
            delete=False,
        )
        proc = None
        try:
            proc = subprocess.Popen(
                argv,
                env=self.environ(),
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own process group, so uvicorn's worker children can be killed with it if
                # SIGTERM is not honoured.
                start_new_session=True,
            )
            yield ServerProcess(proc=proc, port=port, log_path=Path(log.name))
        finally:
            if proc is not None:
                stop_process(proc)
            log.close()


class CliShell:
    """The long-lived CLI process of tests/e2e/clishell.py: one command per request."""

    SCRIPT = Path(__file__).with_name("clishell.py")

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(self.SCRIPT)],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
        )
        # Stopped with the test process at the latest (its stdin closes, it exits).
        weakref.finalize(self, CliShell._stop, self.proc)

    def run(
        self, argv: list[str], env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"argv": argv, "env": env}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise subprocess.TimeoutExpired(argv, timeout)
        line = self.proc.stdout.readline()
        if not line:
            raise CliError(f"the CLI process exited with {self.proc.wait()} during {argv}")
        answer = json.loads(line)
        return subprocess.CompletedProcess(argv, answer["rc"], answer["stdout"], answer["stderr"])

    def close(self) -> None:
        CliShell._stop(self.proc)

    @staticmethod
    def _stop(proc: subprocess.Popen[str]) -> None:
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                if proc.stdin is not None:
                    proc.stdin.close()
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        try:
            return _tail(self.log_path.read_bytes().decode("utf-8", errors="replace"))
        except OSError as exc:
            return f"<server log unreadable: {exc}>"

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        url = f"{self.base_url}/api/v2/public-key"
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                code = self.proc.poll()
                if code is not None:
                    raise ServerStartError(
                        f"`licentia serve` on port {self.port} exited with {code} before it "
                        f"was ready\nserver output:\n{self.output()}"
                    )
                try:
                    response = client.get(url)
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:500]}"
                time.sleep(0.1)
        raise ServerStartError(
            f"`licentia serve` on port {self.port} was not ready after {timeout} s "
            f"(last: {last})\nserver output:\n{self.output()}"
        )


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server, then SIGKILL its process group if it does not exit in time."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # group id == pid (start_new_session)
            proc.wait(timeout=STOP_TIMEOUT)
    # A graceful stop may leave uvicorn worker children behind only if they ignored the
    # signal; reap the group for good measure.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- databases ---------------------------------------------------------------------------


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and urlsplit(url or "").scheme.split("+", 1)[0] in ("postgresql", "postgres")


def postgres_admin_url() -> str | None:
    """`LICENTIA_TEST_DATABASE_URL` when it names a PostgreSQL server, else None."""
    url = os.environ.get(TEST_DATABASE_URL_ENV, "").strip()
    return url if is_postgres_url(url) else None


def asyncpg_dsn(url: str) -> str:
    """`postgresql+asyncpg://...` (SQLAlchemy form) -> `postgresql://...` (libpq form)."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql", *parts[1:]))


def with_database(url: str, name: str) -> str:
    """The same server URL (driver suffix kept) pointing at database `name`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def _admin_execute(admin_url: str, statement: str) -> None:
    import asyncpg  # local import: only PostgreSQL runs need it

    conn = await asyncpg.connect(asyncpg_dsn(admin_url), timeout=15)
    try:
        await conn.execute(statement, timeout=60)
    finally:
        await conn.close()


def _admin_statement(admin_url: str, statement: str) -> None:
    """Run one statement from synchronous fixture code. In a thread of its own, because the
    calling thread may already run an event loop (Playwright's sync API keeps one running
    while a browser is open), where `asyncio.run` is refused."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _admin_execute(admin_url, statement)).result()


def create_postgres_database(admin_url: str) -> tuple[str, str]:
    """Create `licentia_e2e_<random>` on the server of `admin_url`; return (url, name)."""
    name = f"licentia_e2e_{secrets.token_hex(6)}"
    _admin_statement(admin_url, f'CREATE DATABASE "{name}"')
    return with_database(admin_url, name), name


def drop_postgres_database(admin_url: str, name: str) -> None:
    # WITH (FORCE) (PostgreSQL 13+) closes connections a killed server might have left.
    _admin_statement(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def fetch_column(url: str, query: str) -> list[object]:
    """First column of every row of `query` on the PostgreSQL database `url`."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=15)
    try:
        rows = await conn.fetch(query, timeout=30)
    finally:
        await conn.close()
    return [row[0] for row in rows]


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"
