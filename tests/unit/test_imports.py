"""Architecture: the dependency direction of DESIGN.md, checked by walking every import.

`api`, `web`, `cli` -> `services` -> `store` -> `domain`; `crypto` and `domain` import nothing
above them; `client` imports no other licentia module. Imports inside functions and under
`TYPE_CHECKING` count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import licentia

# Known wrong arrows, tolerated until the modules move. Every other violation fails, and an
# entry that no longer matches an import fails too, so this list can only shrink.
KNOWN_EXCEPTIONS: frozenset[tuple[str, str]] = frozenset()

# layer -> layers it must not import
FORBIDDEN: dict[str, frozenset[str]] = {
    "domain": frozenset({"services", "store", "api", "web", "cli"}),
    "crypto": frozenset({"services", "store", "api", "web", "cli"}),
    "store": frozenset({"services", "api", "web", "cli"}),
    "services": frozenset({"api", "web", "cli"}),
}

PACKAGE_ROOT = Path(licentia.__file__).resolve().parent


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def discover(root: Path = PACKAGE_ROOT) -> dict[str, Path]:
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def imported_modules(module: str, is_package: bool, source: str, known: set[str]) -> set[str]:
    """Every licentia module `source` imports, resolving relative imports and `from x import y`
    where `y` is itself a module."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level > 1:
                    base_parts = base_parts[: -(node.level - 1)]
                base = ".".join(base_parts)
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in known else target)
    return {name for name in found if name == "licentia" or name.startswith("licentia.")}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def edges(modules: dict[str, Path]) -> set[tuple[str, str]]:
    known = set(modules)
    out: set[tuple[str, str]] = set()
    for name, path in modules.items():
        source = path.read_text(encoding="utf-8")
        for target in imported_modules(name, path.name == "__init__.py", source, known):
            out.add((name, target))
    return out


def violations(all_edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    bad: set[tuple[str, str]] = set()
    for source, target in all_edges:
        layer = layer_of(source)
        if layer == "client":
            if layer_of(target) != "client":
                bad.add((source, target))
        elif layer_of(target) in FORBIDDEN.get(layer, frozenset()):
            bad.add((source, target))
    return bad


@pytest.fixture(scope="module")
def import_edges() -> set[tuple[str, str]]:
    modules = discover()
    assert "licentia.domain.codes" in modules and "licentia.services.client" in modules
    return edges(modules)


def test_dependency_direction(
    import_edges: set[tuple[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    found = violations(import_edges)
    tolerated = sorted(found & KNOWN_EXCEPTIONS)
    with capsys.disabled():
        print("\nknown layering exceptions (to be removed):")
        for source, target in tolerated:
            print(f"  {source} -> {target}")
    unexpected = sorted(found - KNOWN_EXCEPTIONS)
    assert not unexpected, "wrong import direction:\n" + "\n".join(
        f"  {s} -> {t}" for s, t in unexpected
    )


def test_known_exceptions_are_still_needed(import_edges: set[tuple[str, str]]) -> None:
    stale = sorted(KNOWN_EXCEPTIONS - violations(import_edges))
    assert not stale, "remove from KNOWN_EXCEPTIONS (no longer imported):\n" + "\n".join(
        f"  {s} -> {t}" for s, t in stale
    )


# -- the checker itself ------------------------------------------------------------------------

KNOWN = {
    "licentia",
    "licentia.api",
    "licentia.services.netinfo",
    "licentia.domain",
    "licentia.domain.rules",
    "licentia.domain.codes",
    "licentia.services",
    "licentia.services.client",
    "licentia.store",
    "licentia.store.engine",
    "licentia.client",
    "licentia.client._core",
}


@pytest.mark.parametrize(
    ("module", "is_package", "source", "expected"),
    [
        pytest.param(
            "licentia.domain.rules",
            False,
            "import licentia.services.netinfo",
            {"licentia.services.netinfo"},
            id="import",
        ),
        pytest.param(
            "licentia.domain.rules",
            False,
            "from licentia.services import netinfo",
            {"licentia.services.netinfo"},
            id="from-package-import-module",
        ),
        pytest.param(
            "licentia.domain.rules",
            False,
            "from licentia.services.netinfo import NetInfo",
            {"licentia.services.netinfo"},
            id="from-module-import-name",
        ),
        pytest.param(
            "licentia.domain.rules",
            False,
            "from ..store import engine",
            {"licentia.store.engine"},
            id="relative-up",
        ),
        pytest.param(
            "licentia.domain.rules",
            False,
            "from .codes import Code",
            {"licentia.domain.codes"},
            id="relative",
        ),
        pytest.param(
            "licentia.domain",
            True,
            "from . import rules",
            {"licentia.domain.rules"},
            id="package-relative",
        ),
        pytest.param(
            "licentia.domain.rules",
            False,
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from licentia.services import client\n",
            {"licentia.services.client"},
            id="type-checking",
        ),
        pytest.param(
            "licentia.domain.rules",
            False,
            "def f():\n    import licentia.store.engine\n",
            {"licentia.store.engine"},
            id="inside-function",
        ),
        pytest.param(
            "licentia.domain.rules",
            False,
            "import os, json\nfrom typing import Any",
            set(),
            id="stdlib",
        ),
    ],
)
def test_imported_modules(module: str, is_package: bool, source: str, expected: set[str]) -> None:
    assert imported_modules(module, is_package, source, KNOWN) == expected


@pytest.mark.parametrize(
    ("edge", "bad"),
    [
        (("licentia.domain.rules", "licentia.store.engine"), True),
        (("licentia.domain.rules", "licentia.domain.codes"), False),
        (("licentia.crypto.signing", "licentia.api.envelope"), True),
        (("licentia.store.engine", "licentia.services.runtime"), True),
        (("licentia.store.tables", "licentia.domain.codes"), False),
        (("licentia.services.client", "licentia.api.netinfo"), True),
        (("licentia.services.client", "licentia.web.routes"), True),
        (("licentia.services.client", "licentia.store.tables"), False),
        (("licentia.api.app", "licentia.services.client"), False),
        (("licentia.cli.main", "licentia.api.app"), False),
        (("licentia.client._core", "licentia.crypto.signing"), True),
        (("licentia.client", "licentia.client._core"), False),
    ],
    ids=lambda value: "->".join(value) if isinstance(value, tuple) else str(value),
)
def test_violation_rules(edge: tuple[str, str], bad: bool) -> None:
    assert (edge in violations({edge})) is bad
