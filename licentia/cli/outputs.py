"""Output files of CLI commands (`--output`, `-o`, `backup --to`): checked before any work.

A command that writes a file first checks the path (`check_output`): the folder exists and is
writable, the path is not a folder, an existing file is writable. Only then does it touch the
database. The file itself is written next to its final name and renamed into place
(`StagedOutput`), so a reader never sees half a file and a failed write leaves nothing behind.

Commands that change something and write a file (`license generate -o`) stage the file inside
their write transaction: when the file cannot be written the transaction rolls back, so a
command never exits 1 after it changed something.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from licentia.cli._support import CliFailure, emit_json, fail, guard, show

T = TypeVar("T")


def output_problem(path: Path) -> str | None:
    """Why `path` cannot be written (one line), or None when it can."""
    target = path.expanduser()
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        return f"cannot write {path}: it is a folder"
    if not folder.exists():
        return f"cannot write {path}: the folder {folder} does not exist"
    if not folder.is_dir():
        return f"cannot write {path}: {folder} is not a folder"
    if target.exists() and not os.access(target, os.W_OK):
        return f"cannot write {path}: permission denied"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write {path}: the folder {folder} is not writable"
    return None


def check_output(json_mode: bool, path: Path | None) -> None:
    """Fail (exit 1, `OUTPUT_PATH`) before any work when `path` cannot be written."""
    if path is None:
        return
    problem = output_problem(path)
    if problem is not None:
        fail(json_mode, "OUTPUT_PATH", problem)


class StagedOutput:
    """A file written beside its final name, renamed into place by `commit()`."""

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser()
        self._temp: Path | None = None

    def stage_bytes(self, data: bytes) -> None:
        """Write the content to a temporary file in the target folder (raises CliFailure)."""
        self.discard()
        folder = self.path.parent if str(self.path.parent) else Path(".")
        try:
            fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
            self._temp = Path(name)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            self.discard()
            raise CliFailure(
                "OUTPUT_PATH", f"cannot write {self.path}: {exc.strerror or exc}"
            ) from None

    def stage(self, text: str) -> None:
        self.stage_bytes(text.encode("utf-8"))

    @property
    def temp_path(self) -> Path | None:
        return self._temp

    def adopt(self, temp: Path) -> None:
        """Take over a temporary file written by someone else (e.g. SQLite's backup API)."""
        self.discard()
        self._temp = temp

    def commit(self) -> None:
        if self._temp is None:
            return
        try:
            os.replace(self._temp, self.path)
        except OSError as exc:
            self.discard()
            raise CliFailure(
                "OUTPUT_PATH", f"cannot write {self.path}: {exc.strerror or exc}"
            ) from None
        self._temp = None

    def discard(self) -> None:
        if self._temp is not None:
            with contextlib.suppress(OSError):
                self._temp.unlink()
            self._temp = None


def commit_after(json_mode: bool, staged: StagedOutput | None, step: Callable[[], T]) -> T:
    """Run `step` (which stages the file inside its transaction), then rename the file into
    place; a failed step leaves no file behind."""
    try:
        result = step()
    except BaseException:
        if staged is not None:
            staged.discard()
        raise
    if staged is not None:
        guard(json_mode, staged.commit)
    return result


def write_output(json_mode: bool, path: Path, text: str) -> None:
    """Write `text` to `path` at once (temp file + rename); report failures the CLI way."""
    staged = StagedOutput(path)
    try:
        staged.stage(text)
        staged.commit()
    except CliFailure as exc:
        fail(json_mode, exc.code, exc.message)


def export_text(json_mode: bool, fmt: str, output: Path | None, produce: Callable[[], str]) -> None:
    """An export command's output: `produce()` runs only after `output` was checked; the text
    goes to `output` (then `{format, output}` is shown), else into one JSON object
    (`{format, data}`) with --json, else to stdout."""
    check_output(json_mode, output)
    data = produce()
    if output is not None:
        write_output(json_mode, output, data)
        show(json_mode, {"format": fmt.lower(), "output": str(output)})
    elif json_mode:
        emit_json({"format": fmt.lower(), "data": data})
    else:
        sys.stdout.write(data)
