"""Distributed Map runs: workers that loop, map-run reads as executions start, no item history."""

from __future__ import annotations

from typing import Any

# ---------------------------------------------------------------------------
# Distributed Map workers: a loop, not a recursion per item
# ---------------------------------------------------------------------------


def _patch_map_worker_loop() -> None:
    """Why: moto 5.2.5's Distributed Map worker takes its next item by calling
    itself (``_eval_pool`` recursing once per item), so a worker that processes
    more than about 900 items dies with RecursionError: a backfill of 2,500
    objects at MaxConcurrency 2 failed that way. The same steps, in a loop.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501
        DistributedItemProcessorWorker,
    )

    original = DistributedItemProcessorWorker._eval_pool
    if getattr(original, "_imgflow_loop", False):
        return

    def _eval_pool(self: Any, job: Any, worker_frame: Any) -> None:
        while True:
            if job is None:
                self._env.delete_frame(worker_frame)
                return
            job_frame = worker_frame.open_inner_frame()
            self._eval_job(env=job_frame, job=job)
            worker_frame.delete_frame(job_frame)
            if isinstance(job.job_output, Exception) or self.stopped():
                self._env.delete_frame(worker_frame)
                self._job_pool.close_job(job)
                return
            next_job = self._job_pool.next_job()
            if next_job is None:
                # Close the frame before the job: the map awaits jobs, not workers.
                self._env.delete_frame(worker_frame)
                self._job_pool.close_job(job)
                return
            self._job_pool.close_job(job)
            job = next_job

    _eval_pool._imgflow_loop = True  # type: ignore[attr-defined]
    _eval_pool.__wrapped__ = original  # type: ignore[attr-defined]
    DistributedItemProcessorWorker._eval_pool = _eval_pool  # type: ignore[method-assign]


# ---------------------------------------------------------------------------
# ListMapRuns / DescribeMapRun while executions start
# ---------------------------------------------------------------------------


def _env_of(execution: Any) -> Any:
    worker = getattr(execution, "exec_worker", None)
    return getattr(worker, "env", None)


def _patch_map_run_reads() -> None:
    """Why: moto 5.2.5 reads every execution's interpreter environment to answer
    ListMapRuns and DescribeMapRun, and raises AttributeError for an execution
    whose environment does not exist yet (just started) or any more: `imgflow
    backfill --wait` asks right after StartExecution, where AWS answers an empty
    list. Executions without an environment have no map runs.
    """
    from moto.stepfunctions.parser.models import ResourceNotFound, StepFunctionsParserBackend

    original_list = StepFunctionsParserBackend.list_map_runs
    if getattr(original_list, "_imgflow_guarded", False):
        return
    original_describe = StepFunctionsParserBackend.describe_map_run

    def list_map_runs(self: Any, execution_arn: str) -> dict[str, Any]:
        env = _env_of(self.describe_execution(execution_arn=execution_arn))
        if env is None:
            return {"mapRuns": []}
        return {"mapRuns": [r.list_item() for r in env.map_run_record_pool_manager.get_all()]}

    def describe_map_run(self: Any, map_run_arn: str) -> dict[str, Any]:
        for execution in self._get_executions():
            env = _env_of(execution)
            record = env.map_run_record_pool_manager.get(map_run_arn) if env else None
            if record is not None:
                return record.describe()
        raise ResourceNotFound(f"Map Run {map_run_arn} does not exist")

    list_map_runs._imgflow_guarded = True  # type: ignore[attr-defined]
    list_map_runs.__wrapped__ = original_list  # type: ignore[attr-defined]
    describe_map_run.__wrapped__ = original_describe  # type: ignore[attr-defined]
    StepFunctionsParserBackend.list_map_runs = list_map_runs  # type: ignore[method-assign]
    StepFunctionsParserBackend.describe_map_run = describe_map_run  # type: ignore[method-assign]


# ---------------------------------------------------------------------------
# A Distributed Map's items: no history kept that nothing reads
# ---------------------------------------------------------------------------


def _patch_map_run_history() -> None:
    """Why: moto 5.2.5 records the events of every item of a Distributed Map (each
    item's Choice, Task and its result: the child's whole description) in one
    event list per map run, which no API returns and nothing frees until the
    run ends: a local backfill's process grew by about 9 MB per 1,000 images.
    On AWS each item is a child execution with its own history; imgflow saves
    the image workflow's histories, which are separate executions. The map
    run's events still get their ids; they are no longer kept.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as module,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    if getattr(module.EventManager, "_imgflow_unkept", False):
        return

    class MapRunEventManager(EventManager):
        _imgflow_unkept = True

        def _publish_history_event(self, *args: Any, **kwargs: Any) -> None:
            return None

    MapRunEventManager.__wrapped__ = EventManager  # type: ignore[attr-defined]
    module.EventManager = MapRunEventManager  # type: ignore[misc]
