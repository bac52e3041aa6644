"""Configuration mistakes worth saying out loud (issue #12 item 6).

* `unknown_variables`: `LICENTIA_*` environment variables that are no setting (a typo such as
  `LICENTIA_DATA_DIRR` would otherwise be ignored silently), each with the closest setting.
* `normalize_database_url`: `postgresql://` and `postgres://` URLs (what PostgreSQL tools
  print) mean the asyncpg driver; `sqlite://` means aiosqlite.
* `describe_database`: where the database is, for messages (never the password).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path

from sqlalchemy.engine import make_url

PREFIX = "LICENTIA_"

#: Variables of the test suite and its scripts, not settings of the server.
NOT_SETTINGS_PREFIXES = ("LICENTIA_TEST_", "LICENTIA_PG_TEST_", "LICENTIA_BENCH_")

#: URL scheme -> the one with the async driver Licentia uses.
DRIVER_SCHEMES = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


def setting_variables() -> list[str]:
    from licentia.config import Settings

    return [f"{PREFIX}{name.upper()}" for name in Settings.model_fields]


def unknown_variables(
    environ: Mapping[str, str], known: Iterable[str] | None = None
) -> list[tuple[str, str | None]]:
    """(variable, closest setting or None) for every unknown `LICENTIA_*` variable."""
    names = list(known) if known is not None else setting_variables()
    found: list[tuple[str, str | None]] = []
    for variable in sorted(environ):
        upper = variable.upper()
        if not upper.startswith(PREFIX) or upper in names:
            continue
        if upper.startswith(NOT_SETTINGS_PREFIXES):
            continue
        close = difflib.get_close_matches(upper, names, n=1, cutoff=0.6)
        found.append((variable, close[0] if close else None))
    return found


def unknown_variable_warnings(environ: Mapping[str, str]) -> list[str]:
    warnings = []
    for variable, close in unknown_variables(environ):
        hint = f"; did you mean {close}?" if close else ""
        warnings.append(f"unknown setting {variable} is ignored{hint}")
    return warnings


def normalize_database_url(url: str) -> str:
    """`postgres://` / `postgresql://` -> `postgresql+asyncpg://`; `sqlite://` ->
    `sqlite+aiosqlite://`; any other URL unchanged."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    replacement = DRIVER_SCHEMES.get(scheme.lower())
    return f"{replacement}://{rest}" if replacement else url


def describe_database(url: str) -> str:
    """`SQLite file /abs/path.db` or `PostgreSQL database "x" at host:port` (no password)."""
    try:
        parsed = make_url(url)
    except Exception:
        return "the configured database (unparsable LICENTIA_DATABASE_URL)"
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ":memory:"
        if database == ":memory:" or database.startswith("file:"):
            return f"SQLite database {database}"
        return f"SQLite file {Path(database).resolve()}"
    host = parsed.host or "localhost"
    port = parsed.port or 5432
    return f'PostgreSQL database "{parsed.database or ""}" at {host}:{port}'
