import pytest

from imgflow.errors import ConfigurationError
from imgflow.settings import CompressionMode, Settings


def test_settings_read_from_environment():
    settings = Settings.from_env(
        {
            "SOURCE_BUCKET": "src",
            "DESTINATION_BUCKET": "dst",
            "IN_PLACE": "false",
            "COMPRESSION_MODE": "lossless",
            "MAX_IMAGE_PIXELS": "1000",
        }
    )
    assert settings.mode is CompressionMode.LOSSLESS
    assert settings.limits.max_pixels == 1000
    assert settings.result_bucket == "dst"


def test_in_place_mode_writes_results_to_the_source_bucket():
    settings = Settings.from_env({"SOURCE_BUCKET": "src", "IN_PLACE": "true"})
    assert settings.result_bucket == "src"


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"IN_PLACE": "maybe"}, "IN_PLACE"),
        ({"COMPRESSION_MODE": "magic"}, "magic"),
        ({"MAX_IMAGE_PIXELS": "-1"}, "positive"),
        ({"STAGING_PREFIX": "staging"}, "must end with '/'"),
    ],
)
def test_bad_settings_fail_at_cold_start_with_the_variable_named(env, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        Settings.from_env(env)


def test_missing_required_setting_is_named():
    with pytest.raises(ConfigurationError, match="FAILED_BUCKET"):
        Settings.from_env({}).require("failed_bucket")
