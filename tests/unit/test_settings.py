"""Each function's settings model (imgflow.settings): read from the environment the
template sets, validated at cold start, with no default of its own."""

import pytest

from deployment import function_environment
from imgflow.errors import ConfigurationError
from imgflow.settings import (
    CompressionMode,
    CompressSettings,
    NotifySettings,
    QuarantineSettings,
    StoreSettings,
    ValidateSettings,
)

MODELS = {
    "ValidateImageFunction": ValidateSettings,
    "CompressImageFunction": CompressSettings,
    "CompressLargeImageFunction": CompressSettings,
    "StoreResultFunction": StoreSettings,
    "QuarantineOriginalFunction": QuarantineSettings,
    "NotifyFunction": NotifySettings,
}


@pytest.mark.parametrize("function", MODELS)
def test_each_function_s_settings_read_the_environment_the_template_gives_it(function):
    assert isinstance(MODELS[function].from_env(function_environment(function)), MODELS[function])


@pytest.mark.parametrize("model", sorted(set(MODELS.values()), key=lambda m: m.__name__))
def test_no_setting_has_a_default_of_its_own(model):
    # A default here would be a second copy of the template's parameter default.
    assert [name for name, f in model.model_fields.items() if not f.is_required()] == []


@pytest.mark.parametrize("function", MODELS)
def test_every_variable_a_model_reads_is_one_the_template_sets(function):
    names = {f.alias for f in MODELS[function].model_fields.values()}
    assert names <= function_environment(function).keys()


def test_settings_read_from_environment():
    env = function_environment(
        "CompressImageFunction",
        SOURCE_BUCKET="src",
        DESTINATION_BUCKET="dst",
        IN_PLACE="false",
        COMPRESSION_MODE="lossless",
        MAX_IMAGE_PIXELS="1000",
    )
    settings = CompressSettings.from_env(env)
    assert settings.mode is CompressionMode.LOSSLESS
    assert settings.limits.max_pixels == 1000
    assert settings.result_bucket == "dst"


def test_in_place_mode_writes_results_to_the_source_bucket():
    env = function_environment("StoreResultFunction", SOURCE_BUCKET="src", IN_PLACE="true")
    assert StoreSettings.from_env(env).result_bucket == "src"


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"IN_PLACE": "maybe"}, "IN_PLACE='maybe'"),
        ({"COMPRESSION_MODE": "magic"}, "COMPRESSION_MODE='magic'"),
        ({"MAX_IMAGE_PIXELS": "-1"}, "MAX_IMAGE_PIXELS='-1': Input should be greater than 0"),
        ({"QUALITY_TARGET": "150"}, "QUALITY_TARGET='150'"),
        ({"STAGING_PREFIX": "staging"}, "STAGING_PREFIX='staging': must end with '/'"),
    ],
)
def test_bad_settings_fail_at_cold_start_with_the_variable_named(env, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        CompressSettings.from_env(function_environment("CompressImageFunction", **env))


def test_missing_required_setting_is_named():
    with pytest.raises(
        ConfigurationError, match=r"missing environment variable\(s\): FAILED_BUCKET"
    ):
        QuarantineSettings.from_env({})


def test_an_empty_bucket_name_is_refused():
    env = function_environment("NotifyFunction", TOPIC_ARN="")
    with pytest.raises(ConfigurationError, match="TOPIC_ARN=''"):
        NotifySettings.from_env(env)
