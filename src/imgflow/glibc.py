"""glibc's allocator knobs, for the two places that turn them.

The lossy search keeps the memory it frees while it runs (``imaging.heap``),
and the embedded stack's orchestrating process caps its malloc arenas
(``imgflow_toolkit.local.allocator``). Both call ``mallopt`` (and the first
``malloc_trim``), which only glibc has: elsewhere the allocator is left
alone. So is it where the user tuned it in the environment, through
``GLIBC_TUNABLES`` or the ``MALLOC_*_`` variable of the knob a caller turns:
their own settings win.
"""

from __future__ import annotations

import ctypes
import os
import platform

# malloc.h: mallopt's parameters.
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8
# Every malloc tunable, as ``glibc.malloc.<name>=<value>`` pairs.
TUNABLES = "GLIBC_TUNABLES"


def library(*variables: str) -> ctypes.CDLL | None:
    """The C library to call ``mallopt`` on; None off glibc, or where the user set
    ``GLIBC_TUNABLES`` or one of ``variables`` (the knobs' own environment names)."""
    if platform.libc_ver()[0] != "glibc" or any(v in os.environ for v in (TUNABLES, *variables)):
        return None
    return ctypes.CDLL(None)
