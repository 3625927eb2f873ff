"""The payload that travels between the state machine's steps.

Only references to S3 objects travel (never image bytes): a state's input
and output are capped at 256 KB and ``States.DataLimitExceeded`` is not
caught by ``States.ALL``. Every handler, the ASL's paths, the tests and the
docs use these shapes. The state data (``State``) grows one key per step:

    <the triggering event>            execution input (EventBridge or S3 Records)
    validated:   Validation           ResultPath of "Validate image"
    compressed:  Compression          ResultPath of "Compress image"
    stored:      Stored               ResultPath of "Store result"
    error:       StatesError          ResultPath of every Catch ({"Error", "Cause"})
    quarantined: Quarantined          ResultPath of "Quarantine original"
    quarantine_error: StatesError     ResultPath of its Catch
    notified:    Published            ResultPath of "Notify success"/"Notify failure"
    notify_error: StatesError         ResultPath of "Notify failure"'s Catch

Each function's input is a model too (``ValidateInput`` ... ``NotifyInput``):
what the ASL's ``Parameters`` build for it.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

from imgflow.errors import PERMANENT_ERRORS


class Outcome(StrEnum):
    """What happened to one uploaded image (report.json's ``outcome``)."""

    COMPRESSED = "compressed"
    KEPT_ORIGINAL = "kept_original"
    SKIPPED = "skipped"
    REJECTED = "rejected"
    ERROR = "error"


_PERMANENT_NAMES = frozenset(cls.__name__ for cls in PERMANENT_ERRORS)


def failure_outcome(error_type: str) -> Outcome:
    """``rejected`` when the image itself is at fault (a permanent error), else ``error``."""
    return Outcome.REJECTED if error_type in _PERMANENT_NAMES else Outcome.ERROR


class SkipReason(StrEnum):
    """Why ValidateImage ended an execution without compressing."""

    OUR_OUTPUT = "our_output"  # carries imgflow's marker (in-place replacement)
    ALREADY_PROCESSED = "already_processed"  # duplicate event: result exists
    SUPERSEDED = "superseded"  # a newer upload replaced the object meanwhile
    SOURCE_GONE = "source_gone"  # deleted before it could be processed


# S3 user metadata written on every result (x-amz-meta-<name>).
META_MARKER = "imgflow-processed"
META_SOURCE_ETAG = "imgflow-source-etag"
META_METHOD = "imgflow-method"
META_OUTCOME = "imgflow-outcome"
META_BYTES_IN = "imgflow-bytes-in"
META_BYTES_OUT = "imgflow-bytes-out"
# Metadata on quarantined originals.
META_ERROR_TYPE = "imgflow-error-type"
META_ERROR_MESSAGE = "imgflow-error-message"
META_EXECUTION = "imgflow-execution"


def validation_faults(exc: ValidationError) -> str:
    """What a payload got wrong, one ``field.path: problem`` per fault, for an error message."""
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or '(the event)'}: {e['msg']}"
        for e in exc.errors()
    )


class _Model(BaseModel):
    """A frozen pydantic model; the Lambda payload is ``model_dump(mode="json")``:
    every field present (None as null), enums as their values, in field order,
    under its payload name (the alias, where the attribute needs another)."""

    model_config = ConfigDict(frozen=True, serialize_by_alias=True)


class Status(StrEnum):
    """How an execution ended, as Notify publishes it (and report.json's ``status``)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class ObjectRef(_Model):
    """One version of one S3 object."""

    bucket: str
    key: str
    etag: str | None = None
    version_id: str | None = None
    size: int | None = None


class ImageInfo(_Model):
    """What validation learnt from the real bytes (not the extension)."""

    format: str  # Pillow's name: JPEG, PNG, GIF, WEBP, MPO
    width: int
    height: int
    mode: str
    frames: int = 1


class Validation(_Model):
    """Output of ValidateImage: process the image, or skip it (with the reason)."""

    source: ObjectRef
    image: ImageInfo | None = None
    skip: bool = False
    reason: SkipReason | None = None
    # More pixels than LargeImagePixels: the workflow routes the image to the
    # compress function configured with more memory (same code).
    large: bool = False


class Compression(_Model):
    """Output of CompressImage: the staged result, or none when the original is kept."""

    source: ObjectRef
    outcome: Outcome  # COMPRESSED or KEPT_ORIGINAL
    method: str
    format: str
    bytes_in: int
    bytes_out: int
    staged: ObjectRef | None = None
    score: float | None = None  # SSIMULACRA2 of a lossy result (None: pixels unchanged)


class Stored(_Model):
    """Output of StoreResult: where the final image is (or why nothing was written)."""

    source: ObjectRef
    outcome: Outcome  # COMPRESSED, KEPT_ORIGINAL, or SKIPPED with the reason
    bytes_in: int
    bytes_out: int
    method: str
    result: ObjectRef | None = None
    reason: SkipReason | None = None


class ErrorInfo(_Model):
    """A failure as the user sees it: the error type and an actionable message."""

    type: str
    message: str

    @classmethod
    def from_states_error(cls, error: dict[str, Any]) -> ErrorInfo:
        """Build from a Catch's ``{"Error", "Cause"}``; Lambda's Cause is JSON."""
        name = str(error.get("Error", "States.Runtime"))
        cause = error.get("Cause") or ""
        message = cause
        try:
            parsed = json.loads(cause)
            if isinstance(parsed, dict):
                message = str(parsed.get("errorMessage", cause))
                name = str(parsed.get("errorType", name))
        except (TypeError, ValueError):
            pass
        return cls(type=name, message=message)


class Quarantined(_Model):
    """Output of QuarantineOriginal: the copy in the failed bucket and why."""

    source: ObjectRef | None
    error: ErrorInfo
    # "copy" in the payload; not the attribute's name, which would shadow BaseModel.copy.
    copied: ObjectRef | None = Field(
        default=None, validation_alias=AliasChoices("copy", "copied"), serialization_alias="copy"
    )
    execution: str | None = None
    # Another execution of the same upload (a duplicate event) already
    # quarantined and reported it: this one must not notify again.
    duplicate: bool = False


class Notification(_Model):
    """What Notify publishes: the JSON body; attributes are derived from it."""

    status: Status
    outcome: Outcome
    key: str
    bucket: str
    execution: str | None = None
    format: str | None = None
    bytes_in: int | None = None
    bytes_out: int | None = None
    result: ObjectRef | None = None
    error: ErrorInfo | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class StatesError(_Model):
    """What a Catch puts at its ResultPath; Lambda's ``Cause`` is JSON with the message."""

    error: str = Field(default="States.Runtime", alias="Error")
    cause: str | None = Field(default=None, alias="Cause")

    def info(self) -> ErrorInfo:
        """The error as the user sees it (type and message)."""
        return ErrorInfo.from_states_error({"Error": self.error, "Cause": self.cause})


class Published(_Model):
    """What the state keeps of Notify's answer (its ResultSelector)."""

    message_id: str | None  # None: a duplicate failure, not published again


class Notified(Published):
    """Output of Notify."""

    status: Status
    outcome: Outcome


class State(_Model):
    """An execution's state data: the triggering event, as it came (the extra
    fields), plus the key each step's ResultPath adds (see the module docstring)."""

    model_config = ConfigDict(extra="allow")

    validated: Validation | None = None
    compressed: Compression | None = None
    stored: Stored | None = None
    error: StatesError | None = None
    quarantined: Quarantined | None = None
    quarantine_error: StatesError | None = None
    notified: Published | None = None
    notify_error: StatesError | None = None

    @property
    def trigger(self) -> dict[str, Any]:
        """The triggering event: the execution's input."""
        return dict(self.model_extra or {})

    @property
    def validated_format(self) -> str | None:
        """The image format ValidateImage read (None before it did)."""
        image = self.validated.image if self.validated else None
        return image.format if image else None


class ValidateInput(_Model):
    """ValidateImage's input: the triggering event, which the state machine wraps
    with the execution (``{"event": ..., "execution": arn}``) and ``sam local
    invoke`` passes bare. ``trigger.source_from_event`` reads the object it names."""

    event: dict[str, Any]
    execution: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # No trigger shape has only these keys.
        wrapped = isinstance(data.get("event"), dict) and data.keys() <= {"event", "execution"}
        return data if wrapped else {"event": data}


class CompressInput(_Model):
    """CompressImage's input: the image ValidateImage accepted."""

    source: ObjectRef
    image: ImageInfo
    execution: str | None = None


class StoreInput(_Model):
    """StoreResult's input: what CompressImage staged (or kept)."""

    compressed: Compression
    execution: str | None = None


class QuarantineInput(_Model):
    """QuarantineOriginal's input: the state data, with the Catch's ``error``."""

    state: State
    execution: str | None = None


class NotifyInput(_Model):
    """Notify's input: how the execution ends, and its state data."""

    status: Status
    state: State
    execution: str | None = None


_CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}


def content_type(image_format: str) -> str:
    """The MIME type to store an image of this (Pillow) format under."""
    return _CONTENT_TYPES.get(image_format.upper(), "application/octet-stream")
