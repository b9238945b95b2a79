"""Operator settings: flags over environment over file over defaults, with clear errors."""

from __future__ import annotations

import os
import re
from dataclasses import fields
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from chalkline.cli.operator_cmd import flag_overrides, operator
from chalkline.core.errors import InvalidSpec
from chalkline.operator.config import SETTINGS, Bounds, OperatorConfig, Setting, load_config
from chalkline.operator.wiring import build_controller


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


# The declarations: every setting is declared once, and the loader, the CLI and
# the docs (tests/unit/test_settings_doc.py) follow them. These tests read the
# table, so a new setting is covered without editing them.


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.key)
def test_every_setting_is_declared_in_full(setting: Setting) -> None:
    assert setting.key == camel_case(setting.name)
    assert setting.env.startswith("CHALKLINE_") and setting.env.isupper()
    assert setting.help.strip() and "\n" not in setting.help
    assert setting.example.strip()
    assert setting.type_name


def test_keys_and_variables_name_one_setting_each() -> None:
    assert len({s.key for s in SETTINGS}) == len({s.env for s in SETTINGS}) == len(SETTINGS)
    assert [s.name for s in SETTINGS] == [f.name for f in fields(OperatorConfig)]


@pytest.fixture
def one_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers default is the CPU count; pin it, so no example can equal it by chance."""
    monkeypatch.setattr(os, "cpu_count", lambda: 1)


@pytest.mark.usefixtures("one_cpu")
@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.key)
def test_the_loader_reads_every_declared_variable(setting: Setting) -> None:
    expected = setting.parse(setting.example)
    assert getattr(load_config(None, {}, env={}), setting.name) != expected

    config = load_config(None, {}, env={setting.env: setting.example})

    assert getattr(config, setting.name) == expected


@pytest.mark.usefixtures("one_cpu")
@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.key)
def test_every_declared_key_is_read_from_the_file(setting: Setting, tmp_path: Path) -> None:
    file = tmp_path / "operator.yaml"
    file.write_text(yaml.safe_dump({setting.key: setting.example}))

    assert getattr(load_config(file, {}, env={}), setting.name) == setting.parse(setting.example)


BOUNDED = [setting for setting in SETTINGS if setting.bounds]


def just_outside(bounds: Bounds) -> float:
    if bounds.at_most is not None:
        return bounds.at_most + 1
    if bounds.at_least is not None:
        return bounds.at_least - 1
    assert bounds.above is not None
    return bounds.above


@pytest.mark.parametrize("setting", BOUNDED, ids=lambda setting: setting.key)
def test_a_value_out_of_bounds_names_the_key_and_the_bounds(setting: Setting) -> None:
    assert setting.bounds is not None
    value = just_outside(setting.bounds)

    with pytest.raises(InvalidSpec) as err:
        load_config(None, {setting.key: value}, env={})

    parsed = setting.parse(value)
    assert err.value.message == f"configuration: {setting.key} = {parsed} is out of range"
    assert err.value.hint == f"{setting.key} {setting.bounds.rule()}"


def option_names(command: click.Command) -> set[str]:
    return {
        name
        for param in command.params
        if isinstance(param, click.Option)
        for name in (*param.opts, *param.secondary_opts)
    }


def test_the_operator_command_offers_exactly_the_declared_flags() -> None:
    declared = {name for s in SETTINGS if s.flag for name in (s.flag.name, s.flag.short) if name}
    not_settings = {"--config", "--all-namespaces", "-A", "--help", "-h"}

    assert option_names(operator) - not_settings == declared
    variables = {p.name: p.envvar for p in operator.params if isinstance(p, click.Option)}
    assert {s.name: s.env for s in SETTINGS if s.flag} == {
        name: var for name, var in variables.items() if name not in ("config", "all_namespaces")
    }


def test_operator_help_lists_every_flag_with_its_variable() -> None:
    result = CliRunner().invoke(operator, ["--help"], terminal_width=400)

    assert result.exit_code == 0, result.output
    # Each option's block: its line and the wrapped help under it, up to the next option.
    blocks = re.split(r"\n(?=  -)", result.output)
    for setting in SETTINGS:
        if setting.flag:
            flag = f"{setting.flag.name} "
            block = next(b for b in blocks if flag in b.splitlines()[0])
            assert f"[env var: {setting.env}]" in " ".join(block.split())


def test_flags_reach_the_loader_under_their_keys_and_beat_the_environment() -> None:
    args = ["--backend", "cloudrun", "-n", "team-a", "--namespace", "team-b"]
    context = operator.make_context("operator", args)
    env = {"CHALKLINE_BACKEND": "local", "CHALKLINE_NAMESPACE": "team-c"}

    config = load_config(None, flag_overrides(context.params), env=env)

    assert (config.backend, config.namespaces) == ("cloudrun", ("team-a", "team-b"))
    assert config.storage == "file:///var/lib/chalkline"  # not given: the default


def test_the_namespaces_of_the_config_file_are_read(tmp_path: Path) -> None:
    file = tmp_path / "operator.yaml"
    file.write_text("namespaces: [team-a, team-b]\n")

    assert load_config(file, {}, env={}).namespaces == ("team-a", "team-b")
    env = {"CHALKLINE_NAMESPACE": "team-c"}
    assert load_config(file, {}, env=env).namespaces == ("team-c",)


def test_a_callers_defaults_yield_to_the_file_the_environment_and_flags(tmp_path: Path) -> None:
    laptop = {"storage": "file:///home/me/.cache/storage", "cacheDir": "/home/me/.cache"}
    assert load_config(None, {}, env={}, defaults=laptop).storage == laptop["storage"]
    config = tmp_path / "operator.yaml"
    config.write_text("storage: file:///from/file\n")
    assert load_config(config, {}, env={}, defaults=laptop).storage == "file:///from/file"
    env = {"CHALKLINE_STORAGE": "file:///from/env"}
    assert load_config(config, {}, env=env, defaults=laptop).storage == "file:///from/env"
    flags = {"storage": "file:///from/flag"}
    assert load_config(config, flags, env=env, defaults=laptop).storage == "file:///from/flag"
    assert str(load_config(None, {}, env={}, defaults=laptop).cache_dir) == "/home/me/.cache"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"kubernetesStorageClaim": "shared"}, "the kubernetes backend needs a container image"),
        ({"kubernetesImage": "worker:1"}, "the kubernetes backend's pods cannot see file://"),
    ],
)
def test_the_kubernetes_backend_refuses_what_its_pods_could_not_use(
    settings: dict[str, str], expected: str, tmp_path: Path
) -> None:
    overrides = {"backend": "kubernetes", "storage": f"file://{tmp_path}", **settings}
    config = load_config(None, overrides, env={})
    with pytest.raises(InvalidSpec, match=re.escape(expected)):
        build_controller(config, lambda ns, name: None, env={})
