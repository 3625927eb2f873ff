"""The interpreter's boto3 clients: one per service, region and endpoint, not one per call."""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[tuple[str, str, str | None], Any] = {}
_clients_lock = threading.Lock()


def shared_client(region: str, service: str, state_credentials: Any = None) -> Any:
    """moto's ``boto_client_for``, made once per (region, service, endpoint) and reused.

    moto 5.2.5's client takes fixed credentials ("ak"/"sk") and ignores
    ``state_credentials``; its endpoint is the in-process stub while the mock is
    on, else the moto server: the only things that tell two clients apart.
    botocore clients are thread-safe, so the interpreter's threads share them.
    """
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    endpoint = None if botocore_stubber.enabled else f"http://localhost:{moto_server_port()}"
    key = (region, service, endpoint)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = boto_client_for(region, service, state_credentials)
    return client


def _patch_shared_clients() -> None:
    """Why: moto 5.2.5's interpreter builds a new boto3 client at every call of
    ``boto_client_for``: a new client class, with a method and a docstring per
    operation, and its own service model (about 20 KB, in reference cycles that
    only a full garbage collection frees). A backfill made two Step Functions
    clients per image (StartExecution, then the ``.sync:2`` poller) and one S3
    client per ItemReader and ResultWriter: a local backfill of 40 images peaked
    about 7 MB above a run of the same images, 5 MB of it these clients. Every
    Lambda task made one too: 160 clients for 40 images, in a run or a backfill.
    The Lambda and Step Functions integrations, the ItemReader and the
    ResultWriter now share one client per service.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
        resource_eval_s3 as item_reader_s3,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (  # noqa: E501
        resource_eval_s3 as result_writer_s3,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_sfn,
    )

    for module in (state_task_service_sfn, item_reader_s3, result_writer_s3, lambda_eval_utils):
        if module.boto_client_for is not shared_client:
            module.boto_client_for = shared_client  # type: ignore[attr-defined]
