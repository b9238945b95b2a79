"""``chalkline operator``: run the RenderJob operator against a cluster."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click
import kopf

from chalkline.operator.config import SETTINGS, Flag, Setting, load_config
from chalkline.operator.handlers import build_registry
from chalkline.operator.kube import config_map_reader
from chalkline.operator.wiring import build_controller

#: The settings ``chalkline operator`` takes as flags, with their flags, in declaration order.
FLAGGED: tuple[tuple[Setting, Flag], ...] = tuple(
    (setting, setting.flag) for setting in SETTINGS if setting.flag
)

_Command = TypeVar("_Command", bound=Callable[..., Any])


def setting_options(command: _Command) -> _Command:
    """Add a click option for every setting declared with a flag.

    Each option reads the setting's environment variable too, only so that
    ``--help`` names it; load_config reads the same variable at the same
    precedence, so the result does not depend on which of the two saw it.
    The option's parameter is the setting's field name, None when not given.
    """
    for setting, flag in reversed(FLAGGED):
        help_text = setting.help.replace("`", "")
        default = setting.default_markdown().replace("`", "")
        repeat = "; repeatable" if flag.repeatable else ""
        command = click.option(
            flag.name,
            *([flag.short] if flag.short else []),
            setting.name,
            type=click.Choice(setting.choices) if setting.choices else None,
            multiple=flag.repeatable,
            default=None,
            envvar=setting.env,
            show_envvar=True,
            help=f"{help_text[:1].upper()}{help_text[1:]}{repeat} [default: {default}].",
        )(command)
    return command


def flag_overrides(values: Mapping[str, Any]) -> dict[str, Any]:
    """The flags' values as load_config's overrides (keyed by config key); a
    repeatable flag given no times is "not given", like a missing one."""
    return {
        setting.key: (values[setting.name] or None) if flag.repeatable else values[setting.name]
        for setting, flag in FLAGGED
    }


@click.command("operator")
@setting_options
@click.option(
    "--all-namespaces",
    "-A",
    is_flag=True,
    help="Watch every namespace (the default when no --namespace is given).",
)
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    envvar="CHALKLINE_CONFIG",
    show_envvar=True,
    help="Operator config YAML (see docs/configuration.md).",
)
def operator(config: Path | None, all_namespaces: bool, **flags: Any) -> None:
    """Run the operator: watch RenderJobs, render them, write videoUri to status.

    Logs in with the pod's service account in a cluster, else the current
    kubeconfig context. Each RenderJob is reconciled every pollInterval
    seconds; progress shows in its status and as Events.
    """
    if flags["namespaces"] and all_namespaces:
        raise click.UsageError("give --namespace or --all-namespaces, not both")
    settings = load_config(config, flag_overrides(flags))
    # --all-namespaces beats the namespaces of the config file, as any flag would.
    namespaces = () if all_namespaces else settings.namespaces
    controller = build_controller(settings, config_map_reader())
    registry = build_registry(controller, settings.poll_interval)
    try:
        asyncio.run(run_operator(registry, namespaces, settings.liveness))
    finally:
        controller.executor.close()


async def run_operator(
    registry: kopf.OperatorRegistry,
    namespaces: tuple[str, ...],
    liveness: str | None,
    stop: threading.Event | None = None,
    ready: threading.Event | None = None,
) -> None:
    """Run Kopf with our settings until stopped; also used by the tests."""
    settings = kopf.OperatorSettings()
    settings.peering.standalone = True
    settings.posting.level = 0
    if namespaces:
        settings.scanning.disabled = True
    await kopf.operator(
        registry=registry,
        settings=settings,
        namespaces=list(namespaces),
        clusterwide=not namespaces,
        liveness_endpoint=liveness,
        stop_flag=stop,
        ready_flag=ready,
    )
