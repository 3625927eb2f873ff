"""The embedded AWS: template.yaml's resources on moto, with the real handlers.

``EmbeddedStack`` reads the template (imgflow_toolkit.local.template), creates its
buckets, topic, functions, state machine and upload rule on moto, loads each
function's real handler module with the environment the template gives it
(a cold start: settings are validated at import), and routes an S3 upload
through EventBridge to the state machine, exactly as on AWS. Executions run
the real ASL in moto's interpreter, in background threads.

Where the handlers run:
- ``workers=N`` (what ``imgflow run`` uses): as on Lambda, every invocation
  runs in a worker process of its function's pool (imgflow_toolkit.local.workers),
  with the template's MemorySize and Timeout enforced. The embedded AWS is
  then also served on 127.0.0.1 (moto's server, sharing the same state), and
  the workers reach it through ``AWS_ENDPOINT_URL``.
- ``workers=None``: in this process, in the interpreter's threads. Tests use
  it to reach into a handler's globals (``handler_module``); nothing bounds
  a handler's memory or time there.

Differences from AWS are listed in docs/local-runtime.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import json
import logging
import os
import threading
import time
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from imgflow.aws import telemetry
from imgflow.aws.stepfunctions import TERMINAL_STATUSES
from imgflow_toolkit.cloudformation import ACCOUNT, REGION
from imgflow_toolkit.local import allocator, moto_patches
from imgflow_toolkit.local.context import lambda_context
from imgflow_toolkit.local.response_url import ResponseURL
from imgflow_toolkit.local.template import (
    CustomResourceSpec,
    FunctionSpec,
    StackSpec,
    read_stack,
)
from imgflow_toolkit.local.workers import (
    FunctionError,
    FunctionPool,
    Usage,
    WorkerSpec,
    worker_environment,
)

# Local runs stay quiet and offline: no X-Ray daemon, no metrics flush to stdout.
LOCAL_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
# moto keeps each object's bytes in memory up to 5 MB, in a SpooledTemporaryFile
# that moves to disk past this size. The embedded S3 keeps larger objects on disk
# (temporary files, deleted with the key): a photograph costs this process its
# bytes only while it is read. Measured on 48 photographs (84 MB, lossless mode),
# a local backfill, whose page of objects waits in the source bucket, peaked at
# 432 MB against 320 MB for ``imgflow run``.
OBJECT_IN_MEMORY = 64 * 1024
INBOX_QUEUE = "imgflow-local-notifications"
_import_lock = threading.Lock()

Fault = Callable[[dict[str, Any]], None]


class StackCreateError(RuntimeError):
    """A custom resource answered FAILED: the stack would roll back on AWS too."""


def find_template(start: Path | None = None) -> Path:
    """template.yaml in the current directory or the nearest parent."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "template.yaml"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no template.yaml in {here} or its parents (use --template)")


class EmbeddedStack:
    """A running local copy of the stack. Use as a context manager."""

    def __init__(
        self,
        template: Path | None = None,
        parameters: dict[str, str] | None = None,
        *,
        log_level: str = "ERROR",
        workers: int | None = None,
        log_dir: Path | None = None,
        account: Callable[[EmbeddedStack], None] | None = None,
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.template_path = template or find_template()
        self.spec: StackSpec = read_stack(self.template_path, parameters)
        self.workers = workers
        self.log_dir = log_dir  # workers' logs, one file per function (None: stderr)
        # What the account holds before the stack is deployed (e.g. the bucket that
        # ExistingSourceBucket names): called with the clients ready, before any resource.
        self._account = account
        self._responses: ResponseURL | None = None
        self._custom_ids: dict[str, str] = {}  # custom resource logical id -> physical id
        self._env = {**LOCAL_ENV, "POWERTOOLS_LOG_LEVEL": log_level}
        self._faults: dict[str, Fault] = {}
        self._worker_faults: dict[str, str] = {}
        self._modules: dict[str, ModuleType] = {}
        self._pools: dict[str, FunctionPool] = {}
        self._server: Any = None
        self._mock: Any = None
        self._created = False
        self._saved_env: dict[str, str | None] = {}
        self.invocations: list[tuple[str, str]] = []  # (function logical id, outcome)
        # One tuple per (function, outcome), shared by every invocation that ends so: a
        # new one each time cost about 0.25 KB per image in a long run.
        self._outcomes: dict[tuple[str, str], tuple[str, str]] = {}

    # lifecycle ---------------------------------------------------------------
    def __enter__(self) -> EmbeddedStack:
        from moto import mock_aws

        allocator.limit_arenas()  # before any of the stack's threads allocates
        moto_patches.apply()
        moto_patches.reset()
        # The interpreter logs every Fail state and caught error at ERROR level;
        # failures are reported through the executions instead.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        # Metrics are off locally and cleared after every invocation (see invoke).
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        # moto's objects are freed when dropped (moto_patches.memory._patch_untracked_models).
        warnings.filterwarnings("ignore", message="S3 key was not disposed of in time")
        self._set_env(self._env)
        if "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE" not in os.environ:  # else the user's choice
            self._set_env({"MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": str(OBJECT_IN_MEMORY)})
        # The handlers share one Powertools Logger, created when ``telemetry`` was
        # first imported (by this module, under the caller's environment, so at
        # INFO): set its level here, or every event is printed to stdout.
        telemetry.logger.setLevel(self._env["POWERTOOLS_LOG_LEVEL"])
        self._mock = mock_aws(config=MOTO_CONFIG)
        self._mock.start()
        try:
            if self.workers is not None:
                self._serve()
            self._create()
            self._created = True
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._mock is not None and self._created:
                # Executions run in threads that must finish inside the mock.
                self.wait(timeout=120, raise_on_timeout=False)
            if self._mock is not None:
                self.delete_custom_resources()
        finally:
            if self._responses is not None:
                self._responses.close()
                self._responses = None
            for pool in self._pools.values():
                pool.close()
            if self._server is not None:
                self._server.stop()
                self._server = None
            if self._mock is not None:
                self._mock.stop()
                self._mock = None
            moto_patches.reset()
            self._restore_env()

    def _set_env(self, env: dict[str, str]) -> None:
        for name, value in env.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def _restore_env(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()

    def _serve(self) -> None:
        """The same embedded AWS on 127.0.0.1, for the worker processes."""
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    # resources ---------------------------------------------------------------
    def _create(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.events = boto3.client("events", region_name=REGION)
        self.lambda_ = boto3.client("lambda", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="imgflow-local", AssumeRolePolicyDocument="{}")
        role_arn = role["Role"]["Arn"]
        spec = self.spec
        if self._account is not None:
            self._account(self)
        for logical, name in spec.buckets.items():
            self.s3.create_bucket(Bucket=name)
            if logical in spec.versioned_buckets:
                self.s3.put_bucket_versioning(
                    Bucket=name, VersioningConfiguration={"Status": "Enabled"}
                )
            if logical in spec.eventbridge_buckets:
                self.s3.put_bucket_notification_configuration(
                    Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
                )
        for name in spec.topics.values():
            self.sns.create_topic(Name=name)
        for name in spec.queues.values():  # the upload rule's dead-letter queue
            self.sqs.create_queue(QueueName=name)
        self._subscribe_inbox()
        for function in spec.functions.values():
            self._create_function(function, role_arn)
        for machine in spec.state_machines.values():
            self.sfn.create_state_machine(
                name=machine.name,
                definition=machine.definition,
                roleArn=role_arn,
                type=machine.type,
            )
            for rule in machine.rules:
                self.events.put_rule(Name=rule.name, EventPattern=json.dumps(rule.pattern))
                target = {"Id": "workflow", "Arn": machine.arn, "RoleArn": role_arn}
                if rule.retry_policy is not None:
                    target["RetryPolicy"] = rule.retry_policy
                if rule.dead_letter_config is not None:
                    target["DeadLetterConfig"] = rule.dead_letter_config
                self.events.put_targets(Rule=rule.name, Targets=[target])
        for resource in spec.custom_resources.values():
            answer = self._custom_resource_request("Create", resource)
            if answer["Status"] != "SUCCESS":
                raise StackCreateError(f"{resource.logical_id} CREATE_FAILED: {answer['Reason']}")
            self._custom_ids[resource.logical_id] = answer["PhysicalResourceId"]

    def delete_custom_resources(self) -> None:
        """Send each created custom resource its Delete, last created first, as a stack
        delete does (``__exit__`` does it too). A FAILED answer is logged, not raised."""
        for logical_id in reversed(list(self._custom_ids)):
            resource = self.spec.custom_resources[logical_id]
            physical_id = self._custom_ids.pop(logical_id)
            answer = self._custom_resource_request("Delete", resource, physical_id)
            if answer["Status"] != "SUCCESS":
                logging.getLogger(__name__).warning(
                    "%s DELETE_FAILED: %s", logical_id, answer.get("Reason")
                )

    def _custom_resource_request(
        self, kind: str, resource: CustomResourceSpec, physical_id: str | None = None
    ) -> dict[str, Any]:
        """One request through the resource's real function; its answer, as CloudFormation
        reads it from the pre-signed URL (here, a server on 127.0.0.1)."""
        if self._responses is None:
            self._responses = ResponseURL()
        request_id = str(uuid.uuid4())
        event: dict[str, Any] = {
            "RequestType": kind,
            "ServiceToken": self.spec.functions[resource.function].arn,
            "ResponseURL": self._responses.url,
            "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{self.spec.name}/local",
            "RequestId": request_id,
            "LogicalResourceId": resource.logical_id,
            "ResourceType": resource.type,
            "ResourceProperties": resource.properties,
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        try:
            self.invoke(resource.function, event)
        except FunctionError as exc:  # it never answered: CloudFormation would time out
            raise StackCreateError(f"{resource.logical_id}: {kind} request failed: {exc}") from exc
        return self._responses.answer_to(request_id, self.spec.functions[resource.function].timeout)

    def _subscribe_inbox(self) -> None:
        """An SQS queue on the topic stands in for the email inbox."""
        url = self.sqs.create_queue(QueueName=INBOX_QUEUE)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        for logical in self.spec.topics:
            self.sns.subscribe(
                TopicArn=self.spec.topic_arn(logical), Protocol="sqs", Endpoint=queue_arn
            )
        self._inbox_url = url
        self._inbox: list[dict[str, Any]] = []

    def _create_function(self, function: FunctionSpec, role_arn: str) -> None:
        self.lambda_.create_function(
            FunctionName=function.name,
            Runtime="python3.13",
            Role=role_arn,
            Handler=function.handler,
            Code={"ZipFile": _placeholder_zip()},
            Timeout=function.timeout,
            MemorySize=function.memory,
            Environment={"Variables": function.environment},
        )
        handler = self._handler(function)
        logical = function.logical_id

        def invoke(event: Any, context: Any) -> Any:
            fault = self._faults.get(logical)
            try:
                if fault is not None:
                    fault(event)
                result = handler(event, context)
            except FunctionError as exc:
                self._invoked(logical, exc.error_type)
                raise
            except BaseException as exc:
                self._invoked(logical, type(exc).__name__)
                raise
            finally:
                # Metrics are off locally, and then Powertools never clears them:
                # after 100 it would print them all to stdout.
                telemetry.metrics.clear_metrics()
            self._invoked(logical, "ok")
            return result

        moto_patches.register_handler(function.name, invoke)

    def _invoked(self, logical: str, outcome: str) -> None:
        entry = self._outcomes.setdefault((logical, outcome), (logical, outcome))
        self.invocations.append(entry)

    def _handler(self, function: FunctionSpec) -> Callable[[Any, Any], Any]:
        """The callable an invocation reaches: the pool's, or the module's own."""
        if self.workers is None:
            module = self._load(function)
            return getattr(module, function.handler.rsplit(".", 1)[1])
        environment = {
            **os.environ,
            **function.environment,
            **self._env,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
        }
        # One thread per worker, as a Lambda of up to 1,769 MB has one vCPU. (With
        # two, OpenBLAS's idle threads spin: 1 worker burnt 4x the CPU per image.)
        threads = 1
        pool = FunctionPool(
            WorkerSpec(
                function_name=function.name,
                code_dir=function.code_dir,
                handler=function.handler,
                environment=worker_environment(environment, self.endpoint, threads),
                memory_mb=function.memory,
                timeout_s=float(function.timeout),
                log_path=self._log_path(function),
            ),
            self.workers,
        )
        self._pools[function.logical_id] = pool
        pool.warm()  # a cold start now: a bad environment fails the stack, not an image

        def in_worker(event: Any, context: Any) -> Any:
            fault = self._worker_faults.get(function.logical_id)
            return pool.invoke(event, dataclasses.asdict(context), fault=fault)

        return in_worker

    def worker_peaks(self) -> dict[str, float]:
        """Per function, the most memory (MB) one of its workers has held so far."""
        return {pool.spec.function_name: pool.peak_mb for pool in self._pools.values()}

    def _log_path(self, function: FunctionSpec) -> Path | None:
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self.log_dir / f"{function.logical_id}.log"

    @property
    def usage(self) -> list[Usage]:
        """Every worker invocation so far: duration and peak memory, per function."""
        return [u for pool in self._pools.values() for u in pool.usage]

    def _load(self, function: FunctionSpec) -> ModuleType:
        """Import the handler module fresh: a cold start with its template environment."""
        module_name, _ = function.handler.rsplit(".", 1)
        path = function.code_dir / f"{module_name.replace('.', '/')}.py"
        unique = f"_imgflow_local_{function.logical_id}_{uuid.uuid4().hex[:8]}"
        spec = importlib.util.spec_from_file_location(unique, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {function.logical_id} handler from {path}")
        module = importlib.util.module_from_spec(spec)
        with _import_lock:
            self._set_env(function.environment)
            self._set_env(self._env)
            spec.loader.exec_module(module)
        self._modules[function.logical_id] = module
        return module

    # using it ----------------------------------------------------------------
    @property
    def source_bucket(self) -> str:
        # The created bucket, or the one ExistingSourceBucket names.
        return self.spec.outputs["SourceBucketName"]

    @property
    def result_bucket(self) -> str:
        return self.spec.outputs["DestinationBucketName"]

    @property
    def failed_bucket(self) -> str:
        return self.spec.buckets["FailedBucket"]

    @property
    def state_machine_arn(self) -> str:
        return self.spec.state_machine.arn

    @property
    def backfill_arn(self) -> str:
        return self.spec.backfill.arn

    @contextlib.contextmanager
    def upload_events_paused(self) -> Iterator[None]:
        """Objects written inside are there as if from before the stack: no upload
        events. The source bucket's notification configuration is restored after."""
        bucket = self.source_bucket
        config = self.s3.get_bucket_notification_configuration(Bucket=bucket)
        config.pop("ResponseMetadata", None)
        self.s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        try:
            yield
        finally:
            self.s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration=config
            )

    def start_backfill(
        self, settings: dict[str, Any] | None = None, name: str | None = None
    ) -> str:
        """Start the backfill state machine with these settings ({"prefix", "manifest":
        {"bucket", "key"}, "maxConcurrency", "toleratedFailurePercentage"}, all optional);
        its ARN."""
        args: dict[str, Any] = {
            "stateMachineArn": self.backfill_arn,
            "input": json.dumps(settings or {}),
        }
        if name:
            args["name"] = name
        return self.sfn.start_execution(**args)["executionArn"]

    def upload(self, key: str, data: bytes, content_type: str | None = None) -> dict[str, Any]:
        """Put an object in the source bucket, as a user would (this starts the workflow)."""
        args: dict[str, Any] = {"Bucket": self.source_bucket, "Key": key, "Body": data}
        if content_type:
            args["ContentType"] = content_type
        return self.s3.put_object(**args)

    def inject(self, function_logical_id: str, fault: Fault | None) -> None:
        """Run ``fault(event)`` before a function's handler (raise to fail it); None removes it."""
        if fault is None:
            self._faults.pop(function_logical_id, None)
        else:
            self._faults[function_logical_id] = fault

    def crash_workers(self, function_logical_id: str, fault: str | None) -> None:
        """Make a function's worker processes misbehave (``workers.FAULTS``); None stops it.

        Unlike ``inject``, which raises in this process, the worker itself
        exits, segfaults, runs out of memory or hangs, and the runtime
        reports it as Lambda would.
        """
        if self.workers is None:
            raise RuntimeError("crash_workers needs worker processes (workers=N)")
        if fault is None:
            self._worker_faults.pop(function_logical_id, None)
        else:
            self._worker_faults[function_logical_id] = fault

    def handler_module(self, function_logical_id: str) -> ModuleType:
        """A function's loaded handler module (its cold-start globals: SETTINGS, STORE...).

        Tests reach the function's own clients through it, e.g. to make S3 fail
        underneath the adapter the way a throttled bucket does.
        """
        if self.workers is not None:
            raise RuntimeError(
                "handlers run in worker processes (workers=N): their modules are not here"
            )
        return self._modules[function_logical_id]

    def invoke(self, function_logical_id: str, event: Any) -> Any:
        """Call one function's handler directly, as ``sam local invoke`` would."""
        function = self.spec.functions[function_logical_id]
        context = lambda_context(
            function.name, function.arn, memory_mb=function.memory, timeout_s=function.timeout
        )
        if self.workers is not None:
            # A failure raises FunctionError, whose payload is Lambda's.
            return self._pools[function_logical_id].invoke(event, dataclasses.asdict(context))
        handler = function.handler.rsplit(".", 1)[1]
        return getattr(self._modules[function_logical_id], handler)(event, context)

    def executions(self) -> list[dict[str, Any]]:
        paginator = self.sfn.get_paginator("list_executions")
        return [
            e
            for page in paginator.paginate(stateMachineArn=self.state_machine_arn)
            for e in page["executions"]
        ]

    def wait(self, timeout: float = 300, *, raise_on_timeout: bool = True) -> list[dict[str, Any]]:
        """Block until no execution is running; return every execution's description."""
        deadline = time.monotonic() + timeout
        while True:
            running = [e for e in self.executions() if e["status"] not in TERMINAL_STATUSES]
            if not running:
                break
            if time.monotonic() >= deadline:
                if raise_on_timeout:
                    raise TimeoutError(f"{len(running)} execution(s) still running")
                break
            time.sleep(0.01)
        return [self.describe(e["executionArn"]) for e in self.executions()]

    def describe(self, execution_arn: str) -> dict[str, Any]:
        return self.sfn.describe_execution(executionArn=execution_arn)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        paginator = self.sfn.get_paginator("get_execution_history")
        return [
            e for page in paginator.paginate(executionArn=execution_arn) for e in page["events"]
        ]

    def notifications(self) -> list[dict[str, Any]]:
        """Every message published so far: {"subject", "body" (JSON), "attributes"}."""
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self._inbox_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                envelope = json.loads(message["Body"])
                self._inbox.append(
                    {
                        "subject": envelope.get("Subject"),
                        "body": json.loads(envelope["Message"]),
                        "attributes": {
                            k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()
                        },
                    }
                )
                self.sqs.delete_message(
                    QueueUrl=self._inbox_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return list(self._inbox)

    def discard_notifications(self) -> None:
        """Forget every notification published so far (a long run never reads them)."""
        self.notifications()  # receives and deletes them (PurgeQueue: once a minute)
        self._inbox.clear()
        moto_patches.forget_sent_notifications()
        moto_patches.forget_deleted_messages()

    def read(self, bucket: str, key: str) -> bytes:
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def read_if_present(self, bucket: str, key: str) -> bytes | None:
        try:
            return self.read(bucket, key)
        except self.s3.exceptions.NoSuchKey:
            return None

    def delete_all_versions(self, bucket: str, key: str) -> None:
        """Remove ``key`` from ``bucket`` for good: every version and delete marker."""
        moto_patches.drop_object(bucket, key)

    def keys(self, bucket: str) -> list[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        return [
            o["Key"] for page in paginator.paginate(Bucket=bucket) for o in page.get("Contents", [])
        ]


def _placeholder_zip() -> bytes:
    # moto wants code to create a function; the real handler runs in-process.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "imgflow local runtime: the handler runs in-process\n")
    return buffer.getvalue()
