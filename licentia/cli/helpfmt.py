"""Help output without Typer's type placeholders.

Recent Typer versions print every option's Python type in angle brackets: `--json <bool>`,
`--owner <str>`, `app_id <str>`. A flag takes no value, so it gets none here; a value shows
the classic upper-case kind (`TEXT`, `INTEGER`, `PATH`, ...), and a `metavar` given by a
command is kept. Older Typer versions, which print no placeholders, are left alone.
"""

from __future__ import annotations

from typing import Any

#: Typer's type label -> what the help shows.
KINDS = {
    "str": "TEXT",
    "int": "INTEGER",
    "int range": "INTEGER",
    "float": "NUMBER",
    "float range": "NUMBER",
    "path": "PATH",
    "file": "FILE",
    "dir": "DIR",
    "datetime": "DATETIME",
    "bool": "BOOLEAN",
    "uuid": "UUID",
}


def label(shown: str | None) -> str | None:
    """`<str>` -> `TEXT`, `<list[str]>` -> `TEXT`; anything else without the brackets."""
    if not shown or not (shown.startswith("<") and ">" in shown):
        return shown
    inner, _, rest = shown[1:].partition(">")
    if inner.startswith("list[") and inner.endswith("]"):
        inner = inner[5:-1]
    return KINDS.get(inner, inner.upper() if inner.isidentifier() else inner) + rest


def install() -> None:
    """Patch Typer's option and argument rendering (idempotent)."""
    try:
        from typer.core import TyperArgument, TyperOption
    except ImportError:  # pragma: no cover - a Typer without these classes
        return
    for cls in (TyperOption, TyperArgument):
        original = getattr(cls, "display_type_rich", None)
        if original is None or getattr(original, "_licentia", False):
            continue

        def display_type_rich(self: Any, ctx: Any, _original: Any = original) -> str | None:
            if isinstance(self, TyperArgument):
                return None  # the argument's name (or metavar) is shown already
            if getattr(self, "is_flag", False) or getattr(self, "count", False):
                return None
            if getattr(self, "metavar", None) is not None:
                return str(self.metavar)
            return label(_original(self, ctx))

        display_type_rich._licentia = True  # type: ignore[attr-defined]
        cls.display_type_rich = display_type_rich  # type: ignore[method-assign]
