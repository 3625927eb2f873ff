"""What moto would keep forever: model instances, ended executions and threads,
dropped objects, sent notifications. The runner frees them as it goes."""

from __future__ import annotations

from typing import Any

from imgflow_toolkit.local.moto_patches.s3 import _put_lock


def forget_executions(state_machine_arn: str, execution_arns: set[str]) -> int:
    """Drop ended executions from moto's memory; return how many were dropped.

    Step Functions keeps a Standard execution's history for 90 days; moto
    keeps every one in memory until the mock stops, so a local run of
    thousands of images would grow without bound. The runner saves each
    history first, then forgets it. Running executions are never dropped.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    region = state_machine_arn.split(":")[3]
    backend = stepfunctions_parser_backends[DEFAULT_ACCOUNT_ID][region]
    machine = backend.describe_state_machine(state_machine_arn)
    kept = [
        e
        for e in machine.executions
        if e.execution_arn not in execution_arns or e.stop_date is None
    ]
    dropped = len(machine.executions) - len(kept)
    machine.executions[:] = kept
    return dropped


def forget_finished_threads() -> int:
    """Drop ended threads from the interpreter's registry; return how many were dropped.

    moto's ASL interpreter (ported from LocalStack) appends every thread it
    starts (one per execution, one per Task state...) to the module-level
    list ``TMP_THREADS``, which LocalStack empties at shutdown and moto
    never does. Each ended thread keeps its execution's environment alive:
    about 6 threads and 130 KB per image, without bound, in a long local run.
    """
    from moto.stepfunctions.parser.utils import TMP_THREADS

    before = len(TMP_THREADS)
    TMP_THREADS[:] = [thread for thread in TMP_THREADS if thread.is_alive()]
    return before - len(TMP_THREADS)


def drop_object(bucket_name: str, key: str) -> None:
    """Remove every version of ``key`` (delete markers included) from moto's S3, at once.

    What a lifecycle expiry of all versions does; the runner calls it once a
    key's result is written out. Not through ListObjectVersions: moto's
    deep-copies every version of the bucket, and iterates the keys unlocked,
    so a concurrent write makes it fail ("'NoneType' object is not
    iterable", seen under load). Done under the lock PutObject, CopyObject
    and DeleteObject take (``s3._patch_s3_conditional_writes``). Each
    version's tags go too: moto keeps them by ARN after the key is deleted
    (two entries, about 0.5 KB, per image).
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    bucket = backend.get_bucket(bucket_name)
    with _put_lock:
        versions = bucket.keys.getlist(key, [])
        # Not bucket.keys.pop(key): it calls dispose() on delete markers, which lack it.
        dict.pop(bucket.keys, key, None)
    for version in versions:
        if hasattr(version, "dispose"):  # an object's version, not a delete marker
            backend.tagger.delete_all_tags_for_resource(version.arn)
            version.dispose()  # closes the buffer that held the object's bytes


def forget_sent_notifications() -> None:
    """Empty moto's record of every message each SNS topic has published.

    moto keeps them all (``Topic.sent_notifications``, for its dashboard);
    subscribers already have their copies. It also keeps the certificate it
    signed each message delivered to a queue with, by a name of its own
    (about 1.1 KB per message), for a subscriber that would fetch it to check
    the signature: the runner never does.
    """
    from moto.sns.models import sns_backends

    for account in sns_backends.values():
        for backend in account.values():
            backend._message_public_keys.clear()
            for topic in backend.topics.values():
                topic.sent_notifications.clear()


def forget_deleted_messages() -> None:
    """Empty moto's record of the receipt handles of every SQS message deleted.

    moto keeps them all (``Queue.deleted_messages``), only so that deleting
    the same message twice succeeds: about 0.3 KB per image for the queue the
    runner reads notifications from, which never deletes a message twice.
    """
    from moto.sqs.models import sqs_backends

    for account in sqs_backends.values():
        for backend in account.values():
            for queue in backend.queues.values():
                queue.deleted_messages.clear()


def _patch_deleted_object_tags() -> None:
    """Why: moto 5.2.5 keeps an object's tags after DeleteObject removes it.

    Its tags live apart from the object, by the ARN of the object's version,
    and only PutObject of the same version or DeleteObjectTagging clear them.
    Every object imgflow writes gets an entry, tagged or not; the compressed
    file staged under ``_imgflow-staging/`` and deleted once stored left one
    behind per image, forever (about 0.25 KB). A version deleted, or a key
    deleted from an unversioned bucket, now takes its tags with it; a delete
    marker leaves the version and its tags as S3 does.
    """
    from moto.s3.models import FakeKey, S3Backend

    original = S3Backend.delete_object
    if getattr(original, "_imgflow_untags", False):
        return

    def versions(backend: Any, bucket_name: str, key_name: str) -> set[str]:
        bucket = backend.buckets.get(bucket_name)
        keys = getattr(bucket, "keys", None)
        if keys is None or not hasattr(keys, "getlist"):
            return set()
        return {v.arn for v in keys.getlist(key_name, []) if isinstance(v, FakeKey)}

    def delete_object(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        before = versions(self, bucket_name, key_name)
        result = original(self, bucket_name, key_name, *args, **kwargs)
        for arn in before - versions(self, bucket_name, key_name):
            self.tagger.delete_all_tags_for_resource(arn)
        return result

    delete_object._imgflow_untags = True  # type: ignore[attr-defined]
    delete_object.__wrapped__ = original  # type: ignore[attr-defined]
    S3Backend.delete_object = delete_object  # type: ignore[method-assign]


def _patch_untracked_models() -> None:
    """Why: moto keeps every model instance it ever creates, for its dashboard.

    ``BaseModel.__new__`` appends each instance to its class's
    ``instances_tracked`` list, which only ``/moto-api`` and ``reset()``
    read. Every FakeKey stays alive with its object's bytes, the deep copy
    that each ListObjectVersions makes of every version included, and so
    does every execution, message and event: a local run of thousands of
    images grew by about 140 KB per image, without bound. imgflow never
    uses the dashboard, so instances are not tracked and are freed when
    nothing else holds them (a FakeKey closes its buffer when collected;
    S3's reset still disposes of every key its buckets hold).
    """
    from moto.core.common_models import BaseModel

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    __new__.__wrapped__ = BaseModel.__new__  # type: ignore[attr-defined]
    BaseModel.__new__ = staticmethod(__new__)  # type: ignore[assignment,method-assign]


def _patch_request_cycle() -> None:
    """Why: every request moto handles stays in memory, body and all, until a
    full garbage collection.

    moto turns each boto3 call into a werkzeug ``Request``, which puts itself
    in its own WSGI environ (``environ["werkzeug.request"]``), beside the
    body as ``wsgi.input``: a reference cycle, freed only by the cyclic
    collector, whose older generations run seldom. Seeding 53 photographs
    (92 MB) for a local backfill took the process from about 240 to 420 MB
    before one ran; with a collection after each put it stayed under 260 MB,
    but a full collection of the embedded stack takes 0.2-0.35 s. moto never
    reads the environ's back-reference, so the request is built without it
    (werkzeug's own ``populate_request=False``) and is freed with its call.
    """
    from moto.core.request import Request

    original = Request.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("populate_request", False)
        original(self, *args, **kwargs)

    __init__.__wrapped__ = original  # type: ignore[attr-defined]
    Request.__init__ = __init__  # type: ignore[method-assign]
