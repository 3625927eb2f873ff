"""The functions' configuration: one typed model per function, read from the
environment and validated at cold start, so a bad deployment fails loudly and at once.

No default lives here. template.yaml sets every variable on Lambda (its
parameters hold the defaults); the local runtime and the tests read the same
environment from the template (imgflow_toolkit's reader), so a default is
never written twice. A model names only what its function needs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from imgflow.errors import ConfigurationError


class CompressionMode(StrEnum):
    LOSSLESS = "lossless"
    LOSSY = "lossy"


class MetadataPolicy(StrEnum):
    KEEP = "keep"
    STRIP_GPS = "strip_gps"
    STRIP_ALL = "strip_all"


@dataclass(frozen=True)
class Limits:
    """Decompression-bomb guards, checked before any full decode.

    No defaults either: a function's limits come from its settings'
    environment; callers outside a deployment (benchmarks, tests) take the
    template's (``imgflow_toolkit.local.template.default_limits``).
    """

    max_bytes: int
    max_pixels: int
    # Above this many pixels an image is compressed by the large-memory function.
    large_pixels: int


class _Environment(BaseModel):
    """Settings read from environment variables: each field's alias is its variable."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """Parse the environment the template sets; raise ConfigurationError on nonsense."""
        try:
            return cls.model_validate(dict(os.environ if env is None else env))
        except ValidationError as exc:
            raise ConfigurationError(_explain(cls, exc)) from exc


def _explain(model: type[BaseModel], exc: ValidationError) -> str:
    """``Model: missing environment variable(s): A, B; invalid imgflow setting C='x': why``."""
    errors = exc.errors()
    missing = [str(e["loc"][0]) for e in errors if e["type"] == "missing" and e["loc"]]
    invalid = [
        f"{e['loc'][0] if e['loc'] else '(environment)'}={e['input']!r}: "
        + e["msg"].removeprefix("Value error, ")
        for e in errors
        if e["type"] != "missing"
    ]
    parts = [f"missing environment variable(s): {', '.join(missing)}"] if missing else []
    parts += [f"invalid imgflow setting {problem}" for problem in invalid]
    return f"{model.__name__}: " + "; ".join(parts)


class _Buckets(_Environment):
    """Where originals are and where results go."""

    source_bucket: str = Field(alias="SOURCE_BUCKET", min_length=1)
    destination_bucket: str = Field(alias="DESTINATION_BUCKET", min_length=1)
    in_place: bool = Field(alias="IN_PLACE")

    @property
    def result_bucket(self) -> str:
        """Where results go: the source bucket itself in in-place mode."""
        return self.source_bucket if self.in_place else self.destination_bucket


class _ImageLimits(_Environment):
    max_image_bytes: int = Field(alias="MAX_IMAGE_BYTES", gt=0)
    max_image_pixels: int = Field(alias="MAX_IMAGE_PIXELS", gt=0)
    large_image_pixels: int = Field(alias="LARGE_IMAGE_PIXELS", gt=0)

    @property
    def limits(self) -> Limits:
        """The decompression-bomb guards of this deployment."""
        return Limits(
            max_bytes=self.max_image_bytes,
            max_pixels=self.max_image_pixels,
            large_pixels=self.large_image_pixels,
        )


class ValidateSettings(_Buckets, _ImageLimits):
    """ValidateImage: reads originals, looks for existing results, checks the limits."""


class CompressSettings(_Buckets, _ImageLimits):
    """CompressImage: the compression itself, and where it stages its result."""

    staging_prefix: str = Field(alias="STAGING_PREFIX", min_length=1)
    mode: CompressionMode = Field(alias="COMPRESSION_MODE")
    quality_target: float = Field(alias="QUALITY_TARGET", gt=0, le=100)
    metadata_policy: MetadataPolicy = Field(alias="METADATA_POLICY")

    @field_validator("staging_prefix")
    @classmethod
    def _a_folder(cls, value: str) -> str:
        if not value.endswith("/"):
            raise ValueError("must end with '/'")
        return value


class StoreSettings(_Buckets):
    """StoreResult: copies staged results to their final key."""


class QuarantineSettings(_Environment):
    """QuarantineOriginal: where failed originals are kept."""

    failed_bucket: str = Field(alias="FAILED_BUCKET", min_length=1)


class NotifySettings(_Environment):
    """Notify: the topic it publishes to."""

    topic_arn: str = Field(alias="TOPIC_ARN", min_length=1)
