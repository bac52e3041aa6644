"""Keep credentials out of every log line.

uvicorn's access log prints the request path with its query string, and neither may carry a
secret into the log:

* **Query strings:** the Elite Key API takes any parameter from the query (`?key=ek_...`,
  `password=`, `new_password=`, `license_key=`, ...) and the dashboard's list filters search for
  license keys (`?q=...`). Only the values of a short list of parameters that are never secret
  (`function`, `action`, paging and sorting) are kept; every other value becomes `[redacted]`.
* **Paths:** REST and dashboard routes that carry a license key in the path
  (`/api/manage/apps/{app_id}/licenses/{key}`, ...) are logged with the route's placeholder in
  place of the key (`.../licenses/{key}/ban`). The routes come from the application itself
  (`secret_routes`), so a new route with a secret parameter is covered without editing here.
  A path that matches no route (a typo, a probe, an old client) is logged with every
  *key-shaped* segment shown as `[redacted]`. Key-shaped is what the app hands out as a
  secret: an API token (`lic_...`), an Elite Key (`ek_...`), or a license key, which a mask
  makes from at least 8 random characters of `A-Z a-z 0-9 - _` and at most 64 in all
  (`services.admin_licenses`): so any segment of 8 to 64 such characters. Readable stay the
  literal words of the app's own routes (`licenses`, `reset-hwid`), ids (UUIDs), shorter
  segments and anything with another character (`app.css`).
* **ASGI message trace** (`LICENTIA_LOG_LEVEL=trace`): uvicorn's `uvicorn.asgi` logger dumps
  whole scopes (headers with cookies, `Authorization`, `x-elite-key`); those records are dropped.
* **Third-party debug output:** at `debug`, aiosqlite logs every statement with its parameters;
  the database drivers' and the form parser's loggers are held at `warning` (`quiet_libraries`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import unquote

#: Query parameters whose values are never secret: kept in the access log.
SAFE_QUERY_PARAMS = frozenset(
    {
        "function",
        "action",
        "page",
        "per_page",
        "page_size",
        "limit",
        "offset",
        "sort",
        "order",
        "dir",
        "tab",
        "status",
        "format",
        "done",
        "days",
        "period",
        "range",
        "kind",
        "type",
        "view",
        "app_id",
    }
)
#: Route parameters that hold a secret (license keys, tokens): replaced by their placeholder.
SECRET_PATH_PARAMS = frozenset({"key", "license_key", "token", "secret", "password", "code_key"})
#: Loggers that print SQL parameters, form fields or request data at debug level.
NOISY_LIBRARIES = (
    "aiosqlite",
    "sqlalchemy",
    "asyncpg",
    "python_multipart",
    "multipart",
    "httpx",
    "httpcore",
    "redis",
)
REDACTED = "[redacted]"

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_]+))?\}")
#: Secrets of an unmatched path: tokens and Elite Keys by prefix, license keys by shape.
_KEY_SHAPED = re.compile(r"(?:lic_|ek_)[A-Za-z0-9_-]+|[A-Za-z0-9_-]{8,64}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def redact_query(text: str) -> str:
    """`path?query#fragment` with every value outside SAFE_QUERY_PARAMS replaced."""
    path, mark, rest = text.partition("?")
    if not mark:
        return text
    query, hash_mark, fragment = rest.partition("#")
    parts = []
    for item in query.split("&"):
        name, eq, value = item.partition("=")
        if not eq:
            # A bare value (`?ABCD-1234`) may be a key itself.
            parts.append(REDACTED if item else item)
        elif value and name.lower() not in SAFE_QUERY_PARAMS:
            parts.append(f"{name}={REDACTED}")
        else:
            parts.append(item)
    return f"{path}?{'&'.join(parts)}{hash_mark}{fragment}"


class _Template:
    """One route path as a regex; `secret` lists the groups to show as placeholders."""

    def __init__(self, template: str) -> None:
        pattern = ["^"]
        self.secret: list[str] = []
        self.catch_all = False
        position = 0
        for match in _PARAM.finditer(template):
            pattern.append(re.escape(template[position : match.start()]))
            name, converter = match.group(1), match.group(2)
            self.catch_all = self.catch_all or converter == "path"
            body = ".+" if converter == "path" else "[^/?#]+"
            if name in SECRET_PATH_PARAMS:
                self.secret.append(name)
                pattern.append(f"(?P<{name}>{body})")
            else:
                pattern.append(body)
            position = match.end()
        pattern.append(re.escape(template[position:]))
        self.full = re.compile("".join(pattern) + "/?$")
        # A secret route also hides the key of a longer, unknown path below it (a typo'd
        # action after the key), so it is matched as a prefix.
        self.prefix = re.compile("".join(pattern) + "(?=/|$)") if self.secret else None


class SecretPaths:
    """Rewrites request paths of routes with secret parameters to their placeholders."""

    def __init__(self, templates: Iterable[str] = ()) -> None:
        self.plain: list[_Template] = []
        self.secret: list[_Template] = []
        self._known: set[str] = set()
        self.words: set[str] = set()  # the literal segments of every route
        self.add(templates)

    def add(self, templates: Iterable[str]) -> None:
        for template in templates:
            if template in self._known:
                continue
            self._known.add(template)
            self.words.update(p for p in template.split("/") if p and "{" not in p)
            parsed = _Template(template)
            if parsed.secret:
                self.secret.append(parsed)
            elif not parsed.catch_all:  # `/{path:path}` would shadow every secret route
                self.plain.append(parsed)

    def redact(self, path: str) -> str:
        for candidate in self.secret:
            assert candidate.prefix is not None
            found = candidate.prefix.match(path)
            if found is None:
                continue
            if any(plain.full.match(path) for plain in self.plain):
                return path  # a static route of the same shape (`/licenses/generate`)
            out, last = [], 0
            for name in candidate.secret:
                start, end = found.span(name)
                out.append(path[last:start] + "{" + name + "}")
                last = end
            return "".join(out) + path[last:]
        if any(plain.full.match(path) for plain in self.plain):
            return path
        return "/".join(self._segment(p) for p in path.split("/"))

    def _segment(self, part: str) -> str:
        """A segment of a path that matches no route: `[redacted]` when key-shaped."""
        value = unquote(part)
        if value in self.words or _UUID.fullmatch(value) or not _KEY_SHAPED.fullmatch(value):
            return part
        return REDACTED


def secret_routes(app: Any, prefix: str = "") -> list[str]:
    """Every route path of a Starlette/FastAPI app, mounted apps and included routers too."""
    found: list[str] = []
    for route in getattr(app, "routes", ()):
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI's lazily included router
            context = getattr(route, "include_context", None)
            found.extend(secret_routes(included, prefix + str(getattr(context, "prefix", ""))))
            continue
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        if getattr(route, "routes", None):  # a Mount
            found.extend(secret_routes(route, prefix + path))
        else:
            found.append(prefix + path)
    return found


class RedactSecretsFilter(logging.Filter):
    """Redacts query values and secret path segments in access-log records."""

    def __init__(self, paths: SecretPaths | None = None) -> None:
        super().__init__()
        self.paths = paths or SecretPaths()

    def clean(self, text: str) -> str:
        if not text.startswith("/"):
            return text
        path, mark, query = text.partition("?")
        return redact_query(self.paths.redact(path) + mark + query)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.clean(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = self.clean(record.msg)
        return True


class DropFilter(logging.Filter):
    """Drops every record (uvicorn's ASGI message trace prints headers and cookies)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


def quiet_libraries(names: Sequence[str] = NOISY_LIBRARIES) -> None:
    """Hold the loggers that print SQL parameters or form data at `warning` or above."""
    for name in names:
        logger = logging.getLogger(name)
        # Set explicitly: the root level (LICENTIA_LOG_LEVEL) is configured after this runs.
        logger.setLevel(max(logger.level, logging.WARNING))


def install(routes: Iterable[str] = ()) -> None:
    """Attach the filters to uvicorn's loggers (idempotent); `routes` adds route paths."""
    access = logging.getLogger("uvicorn.access")
    existing = next((f for f in access.filters if isinstance(f, RedactSecretsFilter)), None)
    if existing is None:
        existing = RedactSecretsFilter()
        access.addFilter(existing)
    existing.paths.add(routes)
    trace = logging.getLogger("uvicorn.asgi")
    if not any(isinstance(f, DropFilter) for f in trace.filters):
        trace.addFilter(DropFilter())
    quiet_libraries()
