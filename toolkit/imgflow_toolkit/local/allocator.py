"""One malloc arena for the orchestrating process, as a Lambda sandbox has one process.

glibc gives each thread that allocates under contention an arena of its own,
up to eight per core, and never returns their fragments to the system. The
embedded stack runs every execution, every Distributed Map item and every
``.sync`` wait in a thread of its own, so its resident memory grew with how
many threads had ever run at once, not with what it held: on 40 tiny
images, a local backfill (a map thread and a waiting thread per image on
top of the image's own execution) peaked 3.1 MB above ``imgflow run``
(238.8 against 235.7 MB). With one arena both peaked at 228 MB
(227.9 and 227.96): the threads only orchestrate (the functions run in
worker processes), so they do not compete for the allocator.
"""

from __future__ import annotations

from imgflow import glibc


def limit_arenas(count: int = 1) -> bool:
    """Cap glibc's malloc arenas for this process; False where the C library is not glibc.

    Arenas that already exist stay: call it before the stack's threads start.
    ``MALLOC_ARENA_MAX`` or ``GLIBC_TUNABLES`` set in the environment is the
    user's choice and wins.
    """
    libc = glibc.library("MALLOC_ARENA_MAX")
    return libc is not None and bool(libc.mallopt(glibc.M_ARENA_MAX, count))
