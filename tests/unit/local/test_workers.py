"""The worker pool: Lambda's process model, limits and failure names, on a tiny handler.

Each failure is real: the worker process exits, segfaults, grows past its
memory or hangs, and the pool reports what Lambda would (errorType and
message), then replaces the worker.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from imgflow_toolkit.local.workers import (
    ColdStartError,
    FunctionError,
    FunctionPool,
    Usage,
    UsageLog,
    WorkerSpec,
    worker_environment,
)

HANDLER = """
import os
import time

LOADED_IN = os.getpid()


def handler(event, context):
    kind = event.get("kind")
    if kind == "raise":
        raise KeyError("no such thing")
    if kind == "allocate":
        data = b"x" * (event["mb"] << 20)
        return len(data)
    if kind == "unserialisable":
        return {1, 2}
    if kind == "sleep":
        time.sleep(event["seconds"])
        return None
    if kind == "spin":
        end = time.process_time() + event["seconds"]
        while time.process_time() < end:
            pass
        return None
    if kind == "wait":
        event_file = event["gate"]
        while not os.path.exists(event_file):
            os.sched_yield()
    return {
        "pid": os.getpid(),
        "cold_start_pid": LOADED_IN,
        "threads": os.environ.get("OMP_NUM_THREADS"),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
    }
"""


def _spec(folder: Path, *, memory: int = 512, timeout: float = 60, source: str = HANDLER):
    code = folder / "fn"
    code.mkdir(exist_ok=True)
    (code / "app.py").write_text(source)
    environment = worker_environment(dict(os.environ), "http://127.0.0.1:9", threads=1)
    return WorkerSpec("fn", code, "app.handler", environment, memory, timeout)


def _context(request_id: str = "req-1", timeout: float = 60) -> dict:
    return {"aws_request_id": request_id, "timeout_seconds": timeout, "function_name": "fn"}


@pytest.fixture
def pool(tmp_path):
    pool = FunctionPool(_spec(tmp_path), size=1)
    yield pool
    pool.close()


def test_a_worker_is_a_warm_process_with_the_functions_environment(pool):
    first = pool.invoke({}, _context("a"))
    second = pool.invoke({}, _context("b"))
    assert first["pid"] != os.getpid()
    assert first["pid"] == second["pid"] == second["cold_start_pid"], "one cold start, then warm"
    assert first["threads"] == "1" and first["endpoint"] == "http://127.0.0.1:9"
    assert 0 < first["remaining_ms"] <= 60_000 and second["request_id"] == "b"
    assert [u.error for u in pool.usage] == [None, None]
    assert all(u.peak_mb > 5 and u.duration_ms > 0 for u in pool.usage)


def test_a_handler_exception_is_the_runtimes_error_payload_and_the_worker_survives(pool):
    with pytest.raises(FunctionError) as raised:
        pool.invoke({"kind": "raise"}, _context("r"))
    payload = raised.value.payload
    assert payload["errorType"] == "KeyError" and "no such thing" in payload["errorMessage"]
    assert payload["requestId"] == "r" and any("handler" in line for line in payload["stackTrace"])
    before = pool.invoke({}, _context())["pid"]
    assert pool.invoke({}, _context())["pid"] == before


def test_an_unserialisable_result_is_a_marshal_error(pool):
    with pytest.raises(FunctionError) as raised:
        pool.invoke({"kind": "unserialisable"}, _context())
    assert raised.value.error_type == "Runtime.MarshalError"


@pytest.mark.parametrize(
    ("fault", "message"),
    [("exit", "exit status 1"), ("segfault", "signal: segmentation fault")],
)
def test_a_worker_that_dies_fails_the_invocation_with_exit_error_and_is_replaced(
    pool, fault, message
):
    before = pool.invoke({}, _context())["pid"]
    with pytest.raises(FunctionError) as raised:
        pool.invoke({}, _context("dying"), fault=fault)
    assert raised.value.payload == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: dying Error: Runtime exited with error: {message}",
    }
    after = pool.invoke({}, _context())
    assert after["pid"] != before and after["cold_start_pid"] == after["pid"], "a new cold start"
    assert [u.error for u in pool.usage] == [None, "Runtime.ExitError", None]


def test_a_worker_past_its_memory_size_is_killed_with_out_of_memory(tmp_path):
    pool = FunctionPool(_spec(tmp_path, memory=160), size=1)
    try:
        assert pool.invoke({"kind": "allocate", "mb": 40}, _context()) == 40 << 20
        with pytest.raises(FunctionError) as raised:
            pool.invoke({}, _context("hog"), fault="memory")
        assert raised.value.error_type == "Runtime.OutOfMemory"
        assert "of 160 MB" in raised.value.payload["errorMessage"]
        assert pool.invoke({"kind": "allocate", "mb": 40}, _context()) == 40 << 20
        fits, killed, again = pool.usage
        assert fits.peak_mb >= 40 and killed.peak_mb > 160 and again.error is None
    finally:
        pool.close()


def test_a_worker_past_its_timeout_is_killed_with_sandbox_timedout(tmp_path):
    pool = FunctionPool(_spec(tmp_path, timeout=0.5), size=1)
    try:
        with pytest.raises(FunctionError) as raised:
            pool.invoke({}, _context("slow"), fault="hang")
        assert raised.value.payload == {
            "errorType": "Sandbox.Timedout",
            "errorMessage": "RequestId: slow Error: Task timed out after 0.50 seconds",
        }
        assert pool.invoke({}, _context())["pid"] > 0, "replaced"
    finally:
        pool.close()


def test_a_handler_that_cannot_be_imported_fails_the_cold_start_with_its_error(tmp_path):
    pool = FunctionPool(_spec(tmp_path, source="raise RuntimeError('bad setting X')\n"), size=1)
    with pytest.raises(ColdStartError, match="fn: RuntimeError: bad setting X"):
        pool.warm()
    pool.close()


def test_the_pool_never_runs_more_workers_than_its_size(tmp_path):
    pool = FunctionPool(_spec(tmp_path), size=2)
    gate = tmp_path / "open"
    pids: list[int] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            pids.append(pool.invoke({"kind": "wait", "gate": str(gate)}, _context())["pid"])
        except BaseException as exc:  # reported below
            errors.append(exc)

    callers = [threading.Thread(target=call) for _ in range(5)]
    try:
        for caller in callers:
            caller.start()
        gate.touch()
        for caller in callers:
            caller.join(timeout=120)
        assert not errors and len(pids) == 5
        assert len(set(pids)) <= 2
    finally:
        pool.close()


def test_each_invocation_records_its_cpu_time_apart_from_its_wall_time(pool):
    """The cost model bills CPU time: a wait is not CPU, a busy loop is."""
    pool.invoke({"kind": "sleep", "seconds": 0.4}, _context("asleep"))
    pool.invoke({"kind": "spin", "seconds": 0.3}, _context("busy"))
    asleep, busy = pool.usage[-2:]
    # The worker reads CPU time from os.times(), in clock ticks (10 ms here): two
    # reads may each round down a tick below what the handler's spin consumed.
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    assert asleep.duration_ms >= 400 and asleep.cpu_ms < 100
    assert busy.cpu_ms >= 300 - 2 * tick_ms and busy.duration_ms >= busy.cpu_ms * 0.9


def test_an_unknown_fault_is_refused(pool):
    with pytest.raises(ValueError, match="unknown fault"):
        pool.invoke({}, _context(), fault="explode")


def test_the_usage_log_gives_back_every_invocation_as_recorded_from_any_thread():
    log = UsageLog("imgflow-Compress")
    assert log.peak_mb() == 0.0 and list(log) == []
    log.add(12.5, 80.0, None, 3.25)
    log.add(900.0, 2048.0, "Runtime.OutOfMemory", None)
    threads = [
        threading.Thread(target=lambda: [log.add(1.0, 50.0, None, 0.5) for _ in range(500)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = list(log)
    assert len(log) == len(records) == 2002
    assert records[:2] == [
        Usage("imgflow-Compress", 12.5, 80.0, None, 3.25),
        Usage("imgflow-Compress", 900.0, 2048.0, "Runtime.OutOfMemory", None),
    ]
    assert set(records[2:]) == {Usage("imgflow-Compress", 1.0, 50.0, None, 0.5)}
    assert log.peak_mb() == 2048.0
