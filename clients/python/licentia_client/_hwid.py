"""Machine ids to send as `sid`/`hwid`: the Windows account SID, the Linux machine-id, the
macOS platform UUID. Each helper returns "" when the id cannot be read."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

_SID = re.compile(r"S-1-\d+(?:-\d+)+")
_UUID = re.compile(r'"IOPlatformUUID"\s*=\s*"([0-9A-Fa-f-]{36})"')
MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


def _run(*command: str) -> str:
    try:
        # Fixed commands of this module only, no shell.
        done = subprocess.run(command, capture_output=True, text=True, timeout=5, check=False)  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""


def parse_whoami(output: str) -> str:
    """The SID in the output of `whoami /user /fo csv /nh` (`"host\\user","S-1-5-21-..."`)."""
    found = _SID.search(output)
    return found.group(0) if found else ""


def parse_ioreg(output: str) -> str:
    """The IOPlatformUUID in the output of `ioreg -rd1 -c IOPlatformExpertDevice`."""
    found = _UUID.search(output)
    return found.group(1).upper() if found else ""


def windows_sid() -> str:
    """The current account's SID, the id the AuthlyX SDKs send on Windows."""
    return parse_whoami(_run("whoami", "/user", "/fo", "csv", "/nh"))


def linux_machine_id(files: tuple[str, ...] = MACHINE_ID_FILES) -> str:
    """systemd's /etc/machine-id (or the D-Bus copy): 32 lower-case hex characters."""
    for name in files:
        try:
            text = Path(name).read_text(encoding="ascii").strip().lower()
        except (OSError, UnicodeDecodeError):
            continue
        if re.fullmatch(r"[0-9a-f]{32}", text):
            return text
    return ""


def macos_platform_uuid() -> str:
    return parse_ioreg(_run("ioreg", "-rd1", "-c", "IOPlatformExpertDevice"))


def default_hwid() -> str:
    """The id for this platform ("" when it cannot be read)."""
    if sys.platform.startswith("win"):
        return windows_sid()
    if sys.platform == "darwin":
        return macos_platform_uuid()
    return linux_machine_id()
