"""The README's configuration table names every setting, with its default (issue #12 item 9)."""

from __future__ import annotations

import re
from pathlib import Path

from licentia.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def _table() -> dict[str, str]:
    """LICENTIA_* name -> the default cell's text, from the Configuration section's table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("| `LICENTIA_"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        names = re.findall(r"`(LICENTIA_[A-Z0-9_]+)`", cells[0])
        defaults = re.findall(r"`([^`]*)`", cells[1])
        for index, name in enumerate(names):
            rows[name] = defaults[index] if len(defaults) == len(names) else cells[1]
    return rows


def test_every_setting_is_in_the_readme_table() -> None:
    documented = set(_table())
    fields = {f"LICENTIA_{name.upper()}" for name in Settings.model_fields}
    assert sorted(fields - documented) == [], "settings missing from the README table"
    assert sorted(documented - fields) == [], "README documents settings that do not exist"


def test_plain_defaults_match() -> None:
    table = _table()
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, bool):
            expected = str(default).lower()
        elif isinstance(default, int | float | str) and default != "":
            expected = str(default)
        else:
            continue  # paths, unset values: described in words
        shown = table[f"LICENTIA_{name.upper()}"]
        if isinstance(default, float):  # `5`, not `5.0` (usage_flush_interval, timeouts)
            expected = expected.removesuffix(".0")
        assert shown == expected, (name, shown, expected)
