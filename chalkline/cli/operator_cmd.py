"""``chalkline operator``: run the RenderJob operator against a cluster."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import click
import kopf

from chalkline.operator.config import load_config
from chalkline.operator.handlers import build_registry
from chalkline.operator.kube import config_map_reader
from chalkline.operator.wiring import build_controller


@click.command("operator")
@click.option(
    "--backend",
    type=click.Choice(["local", "cloudrun"]),
    default=None,
    envvar="CHALKLINE_BACKEND",
    show_envvar=True,
    help="Where tasks run [default: local].",
)
@click.option(
    "--storage",
    default=None,
    envvar="CHALKLINE_STORAGE",
    show_envvar=True,
    help="Storage root URI [default: file:///var/lib/chalkline].",
)
@click.option(
    "--namespace",
    "-n",
    "namespaces",
    multiple=True,
    envvar="CHALKLINE_NAMESPACE",
    show_envvar=True,
    help="Watch only this namespace (repeatable).",
)
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
@click.option(
    "--liveness",
    default=None,
    envvar="CHALKLINE_LIVENESS",
    show_envvar=True,
    help="Liveness endpoint [default: http://0.0.0.0:8080/healthz].",
)
def operator(
    backend: str | None,
    storage: str | None,
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    config: Path | None,
    liveness: str | None,
) -> None:
    """Run the operator: watch RenderJobs, render them, write videoUri to status.

    Logs in with the pod's service account in a cluster, else the current
    kubeconfig context. Each RenderJob is reconciled every pollInterval
    seconds; progress shows in its status and as Events.
    """
    if namespaces and all_namespaces:
        raise click.UsageError("give --namespace or --all-namespaces, not both")
    settings = load_config(config, {"backend": backend, "storage": storage, "liveness": liveness})
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
