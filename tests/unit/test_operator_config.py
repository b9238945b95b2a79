"""Operator settings: flags over environment over file over defaults, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalkline.core.errors import InvalidSpec
from chalkline.operator.config import load_config


def test_defaults_without_file_env_or_flags() -> None:
    config = load_config(None, {}, env={})
    assert config.backend == "local"
    assert config.storage == "file:///var/lib/chalkline"
    assert config.poll_interval == 1.0


def test_flags_beat_environment_which_beats_the_file(tmp_path: Path) -> None:
    file = tmp_path / "operator.yaml"
    file.write_text("storage: file:///from/file\nworkers: 3\npollInterval: 2\n")
    env = {"CHALKLINE_STORAGE": "file:///from/env", "CHALKLINE_WORKERS": "5"}
    config = load_config(file, {"storage": "file:///from/flag"}, env=env)
    assert (config.storage, config.workers, config.poll_interval) == ("file:///from/flag", 5, 2.0)


def test_an_unknown_setting_names_the_known_ones(tmp_path: Path) -> None:
    file = tmp_path / "operator.yaml"
    file.write_text("storgae: file:///x\n")
    with pytest.raises(InvalidSpec, match="unknown setting\\(s\\) storgae") as err:
        load_config(file, {}, env={})
    assert "storage" in str(err.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"backend": "lambda"}, "backend 'lambda' is not one of: local, cloudrun"),
        ({"workers": "many"}, "workers = 'many' is not a valid int"),
        ({"workers": 0}, "workers must be >= 1"),
    ],
)
def test_bad_values_are_named(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        load_config(None, overrides, env={})


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidSpec, match="cannot read operator config"):
        load_config(tmp_path / "nope.yaml", {}, env={})


def test_signed_links_are_off_unless_asked_for(tmp_path: Path) -> None:
    assert load_config(None, {}, env={}).signed_url_seconds == 0
    file = tmp_path / "operator.yaml"
    file.write_text("signedUrlSeconds: 3600\n")
    assert load_config(file, {}, env={}).signed_url_seconds == 3600
    env = {"CHALKLINE_SIGNED_URL_SECONDS": "86400"}
    assert load_config(file, {}, env=env).signed_url_seconds == 86400


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            604801,
            "signedUrlSeconds = 604801 is out of range\n  hint: .*at most 604800 \\(7 days\\)",
        ),
        (-1, "signedUrlSeconds = -1 is out of range"),
        ("an hour", "signedUrlSeconds = 'an hour' is not a valid int"),
    ],
)
def test_a_signed_link_lives_at_most_seven_days(value: object, message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        load_config(None, {"signedUrlSeconds": value}, env={})
    load_config(None, {"signedUrlSeconds": 604800}, env={})  # the V4 maximum itself is fine


def test_cloud_run_job_settings_come_from_file_or_environment(tmp_path: Path) -> None:
    file = tmp_path / "operator.yaml"
    file.write_text(
        "cloudrunProject: from-file\ncloudrunMaxRetries: 3\n"
        "cloudrunRenderResources:\n  high: {cpu: '8', memory: 32Gi}\n"
    )
    env = {
        "CHALKLINE_CLOUDRUN_REGION": "europe-west1",
        "CHALKLINE_CLOUDRUN_STITCH_IMAGE": "example/stitcher:1",
        "CHALKLINE_CLOUDRUN_RENDER_RESOURCES": '{"4k": {"cpu": "8", "memory": "32Gi"}}',
        "CHALKLINE_CLOUDRUN_TASK_TIMEOUT_SECONDS": "7200",
    }
    config = load_config(file, {}, env=env)
    assert (config.cloudrun_project, config.cloudrun_region) == ("from-file", "europe-west1")
    assert config.cloudrun_stitch_image == "example/stitcher:1"
    assert config.cloudrun_render_resources == {"4k": {"cpu": "8", "memory": "32Gi"}}
    assert (config.cloudrun_max_retries, config.cloudrun_task_timeout_seconds) == (3, 7200)
    assert config.cloudrun_parallelism == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cloudrunMaxRetries": 11}, "cloudrunMaxRetries = 11 is out of range"),
        ({"cloudrunTaskTimeoutSeconds": 0}, "cloudrunTaskTimeoutSeconds = 0 is out of range"),
        ({"cloudrunParallelism": -1}, "cloudrunParallelism = -1 is out of range"),
        (
            {"cloudrunRenderResources": {"ultra": {"cpu": "8", "memory": "32Gi"}}},
            "names quality 'ultra'\n  hint: qualities: low, medium, high, 4k",
        ),
        (
            {"cloudrunRenderResources": {"high": {"cpu": "8"}}},
            "cloudrunRenderResources.high must be \\{cpu, memory\\}",
        ),
        ({"cloudrunRenderResources": "8 cpus"}, "cloudrunRenderResources = '8 cpus' is not"),
    ],
)
def test_bad_cloud_run_job_settings_are_named(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        load_config(None, overrides, env={})
