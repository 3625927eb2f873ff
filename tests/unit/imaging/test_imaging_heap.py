"""The lossy search reuses the memory it frees, and gives it back when it ends (imaging.heap)."""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from imgflow.imaging import heap

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

# Run in a fresh process: glibc's thresholds move with what a process has freed.
# A 64 MiB block is allocated, touched and freed, then allocated and touched
# again; the second touch's page faults show whether the first's pages stayed.
_PROBE = """
import ctypes, json, resource, sys
from imgflow.imaging import heap
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
SIZE = 64 * 2**20

def touch_twice():
    block = libc.malloc(SIZE); ctypes.memset(block, 1, SIZE); libc.free(block)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(SIZE); ctypes.memset(block, 1, SIZE); libc.free(block)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

if sys.argv[1] == "reusing":
    with heap.reusing() as changed:
        faults = touch_twice()
        inside = rss_mb()
    after = rss_mb()
else:
    changed, faults, inside, after = False, touch_twice(), 0.0, 0.0
print(json.dumps({"changed": changed, "faults": faults, "inside": inside, "after": after}))
"""
PAGES = 64 * 2**20 // 4096


def _probe(mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in heap._USER_SETTINGS}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def _huge_pages_always() -> bool:
    path = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return path.is_file() and "[always]" in path.read_text()


@glibc
def test_a_freed_block_is_reused_inside_the_search_and_returned_after_it():
    probe = _probe("reusing")
    assert probe["changed"] is True
    # Reused: the second block's pages are already there.
    assert probe["faults"] < PAGES // 20, probe
    # Returned on leaving: the 64 MiB kept inside is no longer resident.
    assert probe["after"] < probe["inside"] - 48, probe


@glibc
@pytest.mark.skipif(_huge_pages_always(), reason="huge pages hide the 4 KiB faults counted here")
def test_without_it_glibc_maps_a_large_block_afresh_every_time():
    """The control: what ``reusing`` saves, one fault per page of every large array."""
    assert _probe("default")["faults"] >= PAGES // 2


def test_the_users_own_malloc_settings_win(monkeypatch):
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_max=8")
    with heap.reusing() as changed:
        assert changed is False


def test_other_c_libraries_are_left_alone(monkeypatch):
    for name in heap._USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(platform, "libc_ver", lambda: ("musl", "1.2"))
    with heap.reusing() as changed:
        assert changed is False


@pytest.mark.skipif(heap._SET_HUGE_PAGES is None, reason="this numpy has no huge-page advice")
@pytest.mark.parametrize("before", [True, False])
def test_numpy_asks_for_no_huge_pages_inside_and_as_before_after(before):
    assert heap._SET_HUGE_PAGES is not None
    previous = heap._SET_HUGE_PAGES(before)
    try:
        with heap.reusing():
            assert heap._SET_HUGE_PAGES(False) is False  # off inside
        assert heap._SET_HUGE_PAGES(previous) is before  # restored after
    finally:
        heap._SET_HUGE_PAGES(previous)
