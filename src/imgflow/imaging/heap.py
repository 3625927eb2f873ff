"""Keep freed memory for reuse while the lossy search runs, then give it back.

The search decodes, converts and measures every candidate into arrays of
the photo's size, frees them, and allocates the same arrays for the next
one. glibc serves every block above its mmap threshold (at most 32 MiB)
with a fresh mapping and unmaps it on free, so each candidate faults every
page of its arrays in again, and the kernel zeroes each one. And numpy asks
for transparent huge pages on its large arrays: where the kernel compacts
memory synchronously to find 2 MiB pages (THP ``defrag=madvise``, the
setting of this Firecracker VM), a process's first large arrays stall (400
MB took 3.3 s to touch with huge pages, 0.14 s with 4 KiB ones).

Inside ``reusing()`` large blocks come from the heap, freed ones stay there
for the next candidate, and numpy asks for no huge pages. On lomiri's
20 MP Kleiber (one core): 752,000 page faults and 10.0 s of system time in
a 23.7 s search before; 255,000 faults and 0.4 s in an 11.8 s search after,
the same file (22.3 s with the faster exact blur alone).
On leaving, the free memory goes back to the system, so a warm function
holds no more between images than before.

Only glibc has the allocator's knobs (``mallopt``, ``malloc_trim``);
elsewhere, and where the user set glibc's malloc tunables in the
environment, the allocator is left alone (``imgflow.glibc``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np

from imgflow import glibc
from imgflow.glibc import M_MMAP_MAX, M_TRIM_THRESHOLD

# glibc's defaults, restored on leaving.
DEFAULT_TRIM_THRESHOLD = 128 * 1024
DEFAULT_MMAP_MAX = 65536
# The heap's free top is returned only past this (mallopt takes a C int).
KEEP_UP_TO = 2**31 - 1
# The user's own settings of the two knobs win (``glibc.library``).
_USER_SETTINGS = (glibc.TUNABLES, "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_")


# numpy's switch for its huge-page advice (returns the previous setting);
# absent from a numpy without it, where there is nothing to switch.
_SET_HUGE_PAGES: Callable[[bool], bool] | None = getattr(
    getattr(getattr(np, "_core", None), "multiarray", None), "_set_madvise_hugepage", None
)


@contextlib.contextmanager
def reusing() -> Iterator[bool]:
    """Serve large blocks from the heap and keep freed ones, in 4 KiB pages, until
    the block ends; then restore the defaults and return the free memory. Yields
    whether glibc's allocator was changed."""
    huge = _SET_HUGE_PAGES(False) if _SET_HUGE_PAGES else None
    libc = glibc.library(*_USER_SETTINGS)
    try:
        if libc is None:
            yield False
            return
        libc.mallopt(M_MMAP_MAX, 0)
        libc.mallopt(M_TRIM_THRESHOLD, KEEP_UP_TO)
        try:
            yield True
        finally:
            libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
            libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
            libc.malloc_trim(0)
    finally:
        if _SET_HUGE_PAGES and huge is not None:
            _SET_HUGE_PAGES(huge)
