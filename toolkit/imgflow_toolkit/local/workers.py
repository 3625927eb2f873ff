"""Lambda's process model, locally: every invocation runs in a worker process.

On Lambda each concurrent invocation has an execution environment to itself:
a process that imports the handler once (the cold start), then serves one
invocation at a time, within the function's MemorySize and Timeout. A
function that exceeds them, or whose process dies, fails that invocation
with the error Step Functions then matches in Retry/Catch, and the
environment is replaced. ``FunctionPool`` does the same with local processes:

- up to ``size`` workers per function (the local concurrency), started on
  demand; an invocation waits for a free one (Lambda would throttle);
- each worker imports the handler with the template's environment, the
  embedded AWS's endpoint (``AWS_ENDPOINT_URL``) and BLAS/OpenMP threads
  pinned to ``threads``;
- memory is the process's peak RSS during the invocation (reset before each
  one through /proc/self/clear_refs), polled while it runs: above MemorySize
  the worker is killed and the invocation fails ``Runtime.OutOfMemory``;
  past Timeout it is killed with ``Sandbox.Timedout``; a worker that exits or
  dies on a signal fails it ``Runtime.ExitError``, with Lambda's messages.

The worker side is ``python -m imgflow_toolkit.local.workers REQUEST_FD REPLY_FD``;
it speaks JSON over two pipes. Its stdout and stderr are the function's log:
a file per function (``WorkerSpec.log_path``, as a CloudWatch log group), or
the parent's stderr.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# BLAS, OpenMP and numexpr read these when they load.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
_POLL_SECONDS = 0.025

#: What a worker process can be made to do before its handler runs (tests).
FAULTS = {
    "exit": "call os._exit(1), as a native library's exit() does",
    "segfault": "read address 0, as a crash in native code does",
    "memory": "allocate (and touch) memory until stopped",
    "hang": "never return",
}
_COLD_START_SECONDS = 60.0


class FunctionError(Exception):
    """The invocation failed: ``payload`` is what Lambda returns (errorType, errorMessage...)."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload

    @property
    def error_type(self) -> str:
        return str(self.payload.get("errorType"))


class ColdStartError(RuntimeError):
    """A worker could not import its handler (the template's environment is wrong)."""


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to become one function's execution environment."""

    function_name: str
    code_dir: Path
    handler: str  # "module.attribute"
    environment: dict[str, str]  # the whole process environment
    memory_mb: int
    timeout_s: float
    log_path: Path | None = None  # the function's log (its stdout and stderr); None: stderr


@dataclass(frozen=True, slots=True)
class Usage:
    """One invocation, as Lambda's REPORT line gives it."""

    function: str
    duration_ms: float
    peak_mb: float
    error: str | None  # errorType, None if it returned
    # CPU time of the worker and its children (the lossless transcoder) during the
    # invocation: unlike the wall time, it does not grow when the machine is busy.
    cpu_ms: float | None = None


class UsageLog:
    """Every invocation of one function, as ``Usage`` records, kept in 24 bytes each.

    A pool keeps them all, because the run's cost table reads them at the
    end. As one ``Usage`` object each, with its request id, they took about
    1.1 KB per image (four or five invocations): the largest part of what a
    long local run grew by. Thread-safe: invocations record concurrently.
    """

    def __init__(self, function: str) -> None:
        self.function = function
        self._lock = threading.Lock()
        # duration_ms, peak_mb, cpu_ms (NaN: not measured) of each invocation, in turn
        self._figures = array("d")
        self._errors: dict[int, str] = {}  # invocation number -> errorType

    def add(
        self, duration_ms: float, peak_mb: float, error: str | None, cpu_ms: float | None
    ) -> None:
        with self._lock:
            if error is not None:
                self._errors[len(self._figures) // 3] = error
            self._figures.extend((duration_ms, peak_mb, math.nan if cpu_ms is None else cpu_ms))

    def __len__(self) -> int:
        return len(self._figures) // 3

    def __iter__(self) -> Iterator[Usage]:
        with self._lock:
            figures, errors = self._figures[:], dict(self._errors)
        for n in range(len(figures) // 3):
            duration, peak, cpu = figures[3 * n : 3 * n + 3]
            yield Usage(
                self.function, duration, peak, errors.get(n), None if math.isnan(cpu) else cpu
            )

    def peak_mb(self) -> float:
        with self._lock:
            return max(self._figures[1::3], default=0.0)


def worker_environment(base: dict[str, str], endpoint: str | None, threads: int) -> dict[str, str]:
    """``base`` with the embedded AWS endpoint and the thread pins."""
    env = {**base, **dict.fromkeys(THREAD_VARIABLES, str(max(1, threads)))}
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


class _Worker:
    """One execution environment: a process with the handler imported."""

    def __init__(self, spec: WorkerSpec) -> None:
        request_read, self._request = os.pipe()
        self._reply, reply_write = os.pipe()
        log = open(spec.log_path, "ab") if spec.log_path else None  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "imgflow_toolkit.local.workers",
                str(request_read),
                str(reply_write),
            ],
            env=spec.environment,
            pass_fds=(request_read, reply_write),
            stdin=subprocess.DEVNULL,
            stdout=log or _log_fd(),
            stderr=log,  # None: inherited, the parent's stderr
            cwd=spec.code_dir,
        )
        if log is not None:
            log.close()  # the worker holds its own descriptor
        os.close(request_read)
        os.close(reply_write)
        self.peak_seen = 0.0  # MB, during the current invocation
        self.cold_start_mb = 0.0  # MB, once the handler is imported
        self.requests = Connection(self._request, readable=False)
        self.replies = Connection(self._reply, writable=False)
        self.requests.send_bytes(
            json.dumps({"code_dir": str(spec.code_dir), "handler": spec.handler}).encode()
        )

    def ready(self, timeout: float) -> None:
        """Wait for the cold start; raise ColdStartError if the import failed."""
        if not self.replies.poll(timeout):
            self.kill()
            raise ColdStartError(f"the worker did not import its handler within {timeout:.0f} s")
        try:
            reply = json.loads(self.replies.recv_bytes())
        except (EOFError, OSError) as exc:
            code = self.process.wait()
            ended = _ended(code)
            raise ColdStartError(f"the worker ended during its cold start ({ended})") from exc
        if "error" in reply:
            self.kill()
            error = reply["error"]
            raise ColdStartError(f"{error['errorType']}: {error['errorMessage']}")
        self.cold_start_mb = float(reply.get("peak_mb", 0.0))

    def peak_mb(self) -> float:
        """The process's peak RSS since the current invocation began."""
        return high_water_mb(self.process.pid)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.close()

    def close(self) -> None:
        for connection in (self.requests, self.replies):
            with contextlib.suppress(OSError):
                connection.close()


class FunctionPool:
    """The execution environments of one function; ``invoke`` is thread-safe."""

    def __init__(self, spec: WorkerSpec, size: int) -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least one worker, not {size}")
        self.spec = spec
        self.size = size
        self._usage = UsageLog(spec.function_name)
        self._idle: list[_Worker] = []
        self._count = 0
        self._closed = False
        self._free = threading.Condition()
        self._cold_peak = 0.0

    @property
    def usage(self) -> list[Usage]:
        """Every invocation so far, in the order they ended."""
        return list(self._usage)

    @property
    def peak_mb(self) -> float:
        """The most any of this pool's workers has held: a cold start or an invocation."""
        return max(self._cold_peak, self._usage.peak_mb())

    def warm(self) -> None:
        """Start one worker now, so that a bad environment fails the stack, not a run."""
        worker = self._start()
        with self._free:
            self._idle.append(worker)
            self._free.notify()

    def invoke(self, event: Any, context: dict[str, Any], *, fault: str | None = None) -> Any:
        """Run the handler on a free worker; raise FunctionError as Lambda would fail it.

        ``fault`` (one of ``FAULTS``) makes the worker process misbehave
        before the handler runs, for tests of what the runtime reports.
        """
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose one of {sorted(FAULTS)}")
        worker = self._acquire()
        request_id = str(context.get("aws_request_id", ""))
        started = time.monotonic()
        peak = 0.0
        request = {"event": event, "context": context, "fault": fault}
        worker.peak_seen = 0.0
        try:
            worker.requests.send_bytes(json.dumps(request).encode())
            reply = self._await(worker, request_id)
        except BaseException as exc:
            self._discard(worker)
            error = exc.payload["errorType"] if isinstance(exc, FunctionError) else None
            self._record(started, worker.peak_seen, error or type(exc).__name__)
            raise
        self._release(worker)
        peak = max(worker.peak_seen, float(reply.get("peak_mb", 0.0)))
        cpu = reply.get("cpu_ms")
        if "error" in reply:
            self._record(started, peak, reply["error"].get("errorType"), cpu)
            raise FunctionError(reply["error"])
        self._record(started, peak, None, cpu)
        return reply["result"]

    def close(self) -> None:
        with self._free:
            self._closed = True
            workers, self._idle = self._idle, []
            self._free.notify_all()
        for worker in workers:
            worker.close()  # EOF on its request pipe: the worker exits
        for worker in workers:
            try:
                worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                worker.kill()

    # ------------------------------------------------------------------------
    def _await(self, worker: _Worker, request_id: str) -> dict[str, Any]:
        spec = self.spec
        deadline = time.monotonic() + spec.timeout_s
        while True:
            ready = worker.replies.poll(_POLL_SECONDS)
            worker.peak_seen = peak = max(worker.peak_seen, worker.peak_mb())
            if peak > spec.memory_mb:
                worker.kill()
                raise FunctionError(
                    _lambda_error(
                        "Runtime.OutOfMemory",
                        request_id,
                        f"Runtime exited with error: signal: killed (max memory used "
                        f"{peak:.0f} MB of {spec.memory_mb} MB)",
                    )
                )
            if ready:
                try:
                    return json.loads(worker.replies.recv_bytes())
                except (EOFError, OSError):
                    code = worker.process.wait()
                    raise FunctionError(
                        _lambda_error(
                            "Runtime.ExitError",
                            request_id,
                            f"Runtime exited with error: {_ended(code)}",
                        )
                    ) from None
            if time.monotonic() >= deadline:
                worker.kill()
                raise FunctionError(
                    _lambda_error(
                        "Sandbox.Timedout",
                        request_id,
                        f"Task timed out after {spec.timeout_s:.2f} seconds",
                    )
                )

    def _start(self) -> _Worker:
        worker = _Worker(self.spec)
        try:
            worker.ready(_COLD_START_SECONDS)
        except ColdStartError as exc:
            raise ColdStartError(f"{self.spec.function_name}: {exc}") from None
        self._cold_peak = max(self._cold_peak, worker.cold_start_mb)
        return worker

    def _acquire(self) -> _Worker:
        with self._free:
            while not self._idle and self._count >= self.size and not self._closed:
                self._free.wait()
            if self._closed:
                raise RuntimeError(f"{self.spec.function_name}: the pool is closed")
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return self._start()
        except BaseException:
            with self._free:
                self._count -= 1
                self._free.notify()
            raise

    def _release(self, worker: _Worker) -> None:
        with self._free:
            if self._closed:
                worker.close()
            else:
                self._idle.append(worker)
            self._free.notify()

    def _discard(self, worker: _Worker) -> None:
        """A worker whose invocation did not end cleanly is never reused (Lambda replaces it)."""
        worker.kill()
        with self._free:
            self._count -= 1
            self._free.notify()

    def _record(
        self, started: float, peak: float, error: str | None, cpu_ms: float | None = None
    ) -> None:
        self._usage.add((time.monotonic() - started) * 1000, peak, error, cpu_ms)


def _log_fd() -> int:
    """Where a worker's stdout (its logs) goes: the parent's stderr, or fd 2."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a capture (pytest)
        return 2


def _lambda_error(error_type: str, request_id: str, message: str) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}


def _ended(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            return f"signal: {-code}"
        return {
            "SIGSEGV": "signal: segmentation fault",
            "SIGKILL": "signal: killed",
            "SIGABRT": "signal: aborted",
        }.get(name, f"signal: {name}")
    return f"exit status {code}"


# ---------------------------------------------------------------------------
# The worker process
# ---------------------------------------------------------------------------


class _Context:
    """The Lambda context object, from the fields the parent sends."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.__dict__.update(fields)
        self._deadline = time.monotonic() + float(fields.get("timeout_seconds", 3))

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass  # the parent's polled RSS still bounds it


def high_water_mb(pid: int | str = "self") -> float:
    """A process's peak RSS (VmHWM) in MB, since it started or its last reset; 0 if gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def runtime_error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    """What the AWS Python runtime returns for an uncaught exception.

    Step Functions names the error after ``errorType``, which Retry/Catch
    match. The stack trace runs from the handler down, without the caller's
    frame, as the runtime shows it.
    """
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:]),
    }


def marshal_error_payload(exc: Exception, request_id: str) -> dict[str, Any]:
    """What the Python runtime reports for a result JSON cannot hold."""
    return {
        "errorMessage": f"Unable to marshal response: {exc}",
        "errorType": "Runtime.MarshalError",
        "requestId": request_id,
        "stackTrace": [],
    }


def _load_handler(code_dir: str, handler: str) -> Any:
    module_name, attribute = handler.rsplit(".", 1)
    path = Path(code_dir) / f"{module_name.replace('.', '/')}.py"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load handler {handler} from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attribute)


def _serve(requests: Connection, replies: Connection) -> None:
    setup = json.loads(requests.recv_bytes())
    try:
        handler = _load_handler(setup["code_dir"], setup["handler"])
    except Exception as exc:
        replies.send_bytes(json.dumps({"error": runtime_error_payload(exc, "")}).encode())
        return
    replies.send_bytes(json.dumps({"ready": True, "peak_mb": high_water_mb()}).encode())
    _reset_peak()
    while True:
        try:
            request = json.loads(requests.recv_bytes())
        except EOFError:
            return
        context = _Context(request["context"])
        _reset_peak()
        if request.get("fault"):
            _misbehave(request["fault"])
        cpu = _cpu_seconds()
        try:
            reply = {"result": handler(request["event"], context)}
        except Exception as exc:
            reply = {"error": runtime_error_payload(exc, context.aws_request_id)}
        finally:
            _clear_metrics()
        reply["cpu_ms"] = (_cpu_seconds() - cpu) * 1000
        reply["peak_mb"] = high_water_mb()
        _reset_peak()  # so the parent never reads this invocation's peak as the next one's
        try:
            text = json.dumps(reply)
        except (TypeError, ValueError) as exc:
            error = marshal_error_payload(exc, context.aws_request_id)
            text = json.dumps({"error": error, "peak_mb": reply["peak_mb"]})
        replies.send_bytes(text.encode())


def _cpu_seconds() -> float:
    """User and system CPU of this process and of its children that have ended."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _misbehave(fault: str) -> None:
    if fault == "exit":
        os._exit(1)
    if fault == "segfault":
        import ctypes

        ctypes.string_at(0)
    if fault == "memory":
        hog = []
        while True:
            hog.append(b"\x01" * (16 << 20))
    if fault == "hang":
        threading.Event().wait()


def _clear_metrics() -> None:
    # Metrics are off locally, and Powertools then never clears them: after 100
    # it would print them all.
    telemetry = sys.modules.get("imgflow.aws.telemetry")
    if telemetry is not None:
        telemetry.metrics.clear_metrics()


def main(argv: list[str]) -> None:
    requests = Connection(int(argv[0]), writable=False)
    replies = Connection(int(argv[1]), readable=False)
    _serve(requests, replies)


if __name__ == "__main__":
    main(sys.argv[1:])
