"""The Distributed Map's ItemReader: every ListObjectsV2 page, S3 Inventory manifests."""

from __future__ import annotations

from typing import Any

from imgflow_toolkit.local.moto_patches.clients import shared_client

#: Keys per ListObjectsV2 page the ItemReader asks for (None: S3's 1,000). Tests
#: lower it to cross page boundaries with few objects.
item_reader_page_size: int | None = None


def _patch_item_reader_paging() -> None:
    """Why: moto 5.2.5's ItemReader calls ListObjectsV2 once and reads
    ``response["Contents"]``: a prefix of more than 1,000 objects loses all but
    the first page, and an empty one raises KeyError. AWS's ItemReader lists
    every page (ContinuationToken) and an empty listing is zero items. The
    backfill lists the whole source bucket this way.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3 import (  # noqa: E501
        ResourceEvalS3,
    )

    original = ResourceEvalS3._handle_list_objects_v2
    if getattr(original, "_imgflow_paged", False):
        return

    def _handle_list_objects_v2(
        env: Any, resource_runtime_part: Any, state_credentials: Any
    ) -> None:
        s3_client = ResourceEvalS3._get_s3_client(
            resource_runtime_part=resource_runtime_part, state_credentials=state_credentials
        )
        parameters = dict(env.stack.pop())
        if item_reader_page_size is not None:
            parameters.setdefault("MaxKeys", item_reader_page_size)
        contents: list[Any] = []
        while True:
            response = s3_client.list_objects_v2(**parameters)
            contents.extend(response.get("Contents", []))
            if not response.get("IsTruncated"):
                break
            parameters["ContinuationToken"] = response["NextContinuationToken"]
        env.stack.append(contents)

    _handle_list_objects_v2._imgflow_paged = True  # type: ignore[attr-defined]
    _handle_list_objects_v2.__wrapped__ = original  # type: ignore[attr-defined]
    ResourceEvalS3._handle_list_objects_v2 = staticmethod(_handle_list_objects_v2)  # type: ignore[method-assign]


def _item_reader_failed(env: Any, cause: str) -> Exception:
    """States.ItemReaderFailed, as AWS ends a Distributed Map that cannot read its items."""
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    error_name = StatesErrorName(typ=StatesErrorNameType.StatesItemReaderFailed)
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(
                mapRunFailedEventDetails=MapRunFailedEventDetails(
                    error=error_name.error_name, cause=cause
                )
            ),
        )
    )


def _inventory_items(s3_client: Any, manifest_text: str, max_items: int) -> list[dict[str, str]]:
    """The rows of an S3 Inventory, as AWS's MANIFEST reader yields them: one dict per
    row of every CSV data file, named by the manifest's fileSchema. Raises ValueError
    with the reason when the manifest is not one it can read."""
    from imgflow.manifests import InventoryManifest, csv_rows

    manifest = InventoryManifest.parse(manifest_text)
    items: list[dict[str, str]] = []
    for key in manifest.files:
        body = s3_client.get_object(Bucket=manifest.bucket, Key=key)["Body"].read()
        for row in csv_rows(body, manifest.fields, f"s3://{manifest.bucket}/{key}"):
            if len(items) >= max_items:
                return items
            items.append(row)
    return items


def _patch_item_reader_manifest() -> None:
    """Why: moto 5.2.5's ItemReader knows InputType CSV and JSON only (its enum says
    "TODO: add support for MANIFEST"), so a definition reading an S3 Inventory does
    not even parse; and an ItemReader whose getObject fails (no such manifest or
    list) raised the client's error where AWS fails the map with
    ``States.ItemReaderFailed``. AWS's MANIFEST reader reads manifest.json, then each
    CSV data file it names, one item per row with the fileSchema's field names (all
    strings, the key URL-encoded as S3 Inventory writes it).
    """
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader import (
        item_reader_decl,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3 import (  # noqa: E501
        ResourceEvalS3,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_output_transformer.transformer import (  # noqa: E501
        ResourceOutputTransformer,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.reader_config.input_type import (  # noqa: E501
        InputType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import (
        StateCredentials,
    )

    if getattr(InputType.__init__, "_imgflow_manifest", False):
        return
    original_init = InputType.__init__
    original_factory = item_reader_decl.resource_output_transformer_for
    original_get_object = ResourceEvalS3._handle_get_object

    def __init__(self: Any, input_type: str) -> None:
        if input_type == "MANIFEST":
            self.input_type_value = "MANIFEST"
        else:
            original_init(self, input_type)

    class ManifestTransformer(ResourceOutputTransformer):
        def _eval_body(self, env: Any) -> None:
            reader_config = env.stack.pop()
            manifest_text = env.stack.pop()
            s3_client = shared_client(
                region=env.aws_execution_details.region,
                service="s3",
                state_credentials=StateCredentials(role_arn=env.aws_execution_details.role_arn),
            )
            try:
                items = _inventory_items(s3_client, manifest_text, reader_config["MaxItemsValue"])
            except (ValueError, ClientError) as exc:
                raise _item_reader_failed(env, str(exc)) from exc
            env.stack.append(items)

    def resource_output_transformer_for(input_type: Any) -> Any:
        if input_type.input_type_value == "MANIFEST":
            return ManifestTransformer()
        return original_factory(input_type)

    def _handle_get_object(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        parameters = dict(env.stack[-1])
        try:
            original_get_object(env, resource_runtime_part, state_credentials)
        except ClientError as exc:
            where = f"s3://{parameters.get('Bucket')}/{parameters.get('Key')}"
            raise _item_reader_failed(env, f"{where}: {exc}") from exc

    __init__._imgflow_manifest = True  # type: ignore[attr-defined]
    InputType.__init__ = __init__  # type: ignore[method-assign]
    item_reader_decl.resource_output_transformer_for = resource_output_transformer_for
    ResourceEvalS3._handle_get_object = staticmethod(_handle_get_object)  # type: ignore[method-assign]
