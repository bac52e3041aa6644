"""Large freed buffers (argon2id's memory cost) go back to the OS instead of staying resident."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

SCRIPT = """
import asyncio
from licentia.crypto.passwords import Passwords
from licentia.services.procmem import release_large_allocations

def rss_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

if {release}:
    assert release_large_allocations()
# Several hashes at once (the per-worker bound would otherwise keep one at a time).
passwords = Passwords(time_cost=1, memory_kib=19456, parallelism=1, concurrency=8)

async def main():
    digest = await passwords.hash("pw")
    await asyncio.gather(*(passwords.verify(digest, "pw") for _ in range(16)))

asyncio.run(main())
base = rss_kib()
print(base)
"""


def _resident_after_burst(release: bool) -> int:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(release=release)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(platform.system() != "Linux", reason="glibc malloc behaviour")
def test_argon2_burst_does_not_stay_resident() -> None:
    # Several concurrent 19 MiB hashes: with the fixed mmap threshold their buffers are
    # unmapped on free, so the process is smaller than without it by at least two buffers.
    kept = _resident_after_burst(False)
    released = _resident_after_burst(True)
    assert kept - released > 2 * 19 * 1024, (kept, released)
