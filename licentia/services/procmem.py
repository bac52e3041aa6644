"""Give large freed buffers back to the operating system (glibc's malloc).

Every argon2id hash or check allocates its memory cost (19 MiB by default) with `malloc`.
glibc serves such a block with `mmap` and returns it on `free`, but after the first such free
it raises its mmap threshold to that size, so later blocks come from per-thread arenas that
are kept: a worker that once ran six hashes at a time stayed about 115 MiB larger for good.
A fixed threshold (setting it turns the adjustment off) keeps every block of 1 MiB or more
on `mmap`, so a worker's resident size returns to its base after a login burst. Elsewhere
than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("licentia.memory")

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
THRESHOLD = 1 << 20

_done = False


def release_large_allocations() -> bool:
    """Set glibc's mmap threshold once per process; True when it was set."""
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    _done = bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    if not _done:
        log.debug("mallopt(M_MMAP_THRESHOLD) was refused")
    return _done
