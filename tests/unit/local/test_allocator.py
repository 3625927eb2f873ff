"""The orchestrating process caps glibc's malloc arenas (see imgflow_toolkit.local.allocator)."""

import platform

import pytest

from imgflow_toolkit.local import allocator

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")


@glibc
def test_the_arena_limit_is_set_on_glibc(monkeypatch):
    for name in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES"):
        monkeypatch.delenv(name, raising=False)
    assert allocator.limit_arenas() is True


@glibc
@pytest.mark.parametrize(
    ("name", "value"), [("MALLOC_ARENA_MAX", "4"), ("GLIBC_TUNABLES", "glibc.malloc.arena_max=4")]
)
def test_a_limit_the_user_set_in_the_environment_wins(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    assert allocator.limit_arenas() is False


def test_other_c_libraries_are_left_alone(monkeypatch):
    for name in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(platform, "libc_ver", lambda: ("musl", "1.2"))
    assert allocator.limit_arenas() is False
