"""The functions' configuration: one typed object, read from the environment
and validated at cold start, so a bad deployment fails loudly and at once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

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
    """Decompression-bomb guards, checked before any full decode."""

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 100_000_000
    # Above this many pixels an image is compressed by the large-memory function.
    large_pixels: int = 24_000_000


@dataclass(frozen=True)
class Settings:
    """Everything a function needs to know about its deployment."""

    source_bucket: str = ""
    destination_bucket: str = ""
    failed_bucket: str = ""
    topic_arn: str = ""
    in_place: bool = False
    staging_prefix: str = "_imgflow-staging/"
    mode: CompressionMode = CompressionMode.LOSSY
    quality_target: float = 85.0
    metadata_policy: MetadataPolicy = MetadataPolicy.KEEP
    limits: Limits = Limits()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Parse the environment the template sets; raise ConfigurationError on nonsense."""
        env = os.environ if env is None else env
        try:
            settings = cls(
                source_bucket=env.get("SOURCE_BUCKET", ""),
                destination_bucket=env.get("DESTINATION_BUCKET", ""),
                failed_bucket=env.get("FAILED_BUCKET", ""),
                topic_arn=env.get("TOPIC_ARN", ""),
                in_place=_flag(env.get("IN_PLACE", "false"), "IN_PLACE"),
                staging_prefix=env.get("STAGING_PREFIX", cls.staging_prefix),
                mode=CompressionMode(env.get("COMPRESSION_MODE", "lossy")),
                quality_target=float(env.get("QUALITY_TARGET", "85")),
                metadata_policy=MetadataPolicy(env.get("METADATA_POLICY", "keep")),
                limits=Limits(
                    max_bytes=int(env.get("MAX_IMAGE_BYTES", Limits.max_bytes)),
                    max_pixels=int(env.get("MAX_IMAGE_PIXELS", Limits.max_pixels)),
                    large_pixels=int(env.get("LARGE_IMAGE_PIXELS", Limits.large_pixels)),
                ),
            )
        except ValueError as exc:
            raise ConfigurationError(f"invalid imgflow setting: {exc}") from exc
        settings.check()
        return settings

    def check(self) -> None:
        """Reject combinations that cannot work."""
        if not self.staging_prefix.endswith("/"):
            raise ConfigurationError(f"STAGING_PREFIX {self.staging_prefix!r} must end with '/'")
        limits = self.limits
        if limits.max_bytes <= 0 or limits.max_pixels <= 0 or limits.large_pixels <= 0:
            raise ConfigurationError(
                "MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS and LARGE_IMAGE_PIXELS must be positive"
            )
        if not 0 < self.quality_target <= 100:
            raise ConfigurationError(f"QUALITY_TARGET {self.quality_target} must be in (0, 100]")

    @property
    def result_bucket(self) -> str:
        """Where results go: the source bucket itself in in-place mode."""
        return self.source_bucket if self.in_place else self.destination_bucket

    def require(self, *names: str) -> None:
        """Fail at cold start if a function's own settings are missing."""
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            env_names = ", ".join(n.upper() for n in missing)
            raise ConfigurationError(f"missing environment variable(s): {env_names}")


def _flag(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise ValueError(f"{name}={value!r} is not true/false")
