"""``chalkline run -f``: a RenderJob manifest, reconciled on this machine."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import yaml

from chalkline.core.errors import ChalklineError, InvalidSpec
from chalkline.drivers.local_render import default_cache_dir
from chalkline.operator.actions import Emit
from chalkline.operator.config import load_config
from chalkline.operator.standalone import run_job, split_manifest
from chalkline.operator.wiring import build_controller

COLUMNS = "{:<20} {:<10} {:<9} {:<7} {}"


@click.command("run")
@click.option(
    "-f",
    "--filename",
    "manifest",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML with one RenderJob (and the ConfigMaps it reads).",
)
@click.option(
    "--storage",
    default=None,
    help="Storage root URI for intermediates and default outputs "
    "[default: file://$CHALKLINE_CACHE_DIR/../storage].",
)
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Scenes at a time.")
@click.option(
    "-o",
    "--output",
    "output_format",
    type=click.Choice(["yaml"]),
    default=None,
    help="Print the final RenderJob, status included, as YAML.",
)
@click.option(
    "--config", type=click.Path(path_type=Path), default=None, help="Operator config YAML."
)
def run(
    manifest: Path,
    storage: str | None,
    workers: int | None,
    output_format: str | None,
    config: Path | None,
) -> None:
    """Reconcile a RenderJob manifest on this machine, without a cluster.

    The same reconciler and local executor the operator uses: status
    transitions print like `kubectl get -w`, Events as they happen, and the
    exit code says whether the job succeeded. ConfigMaps in the same file
    serve `source.configMapKeyRef`.

    \b
    Example:
      chalkline run -f manifests/examples/inline.yaml -o yaml
    """
    documents = _load(manifest)
    job, config_maps = split_manifest(documents)
    cache = default_cache_dir()
    settings = load_config(
        config,
        {"storage": storage, "workers": workers, "backend": (job.get("spec") or {}).get("backend")},
        defaults={"storage": f"file://{cache.parent / 'storage'}", "cacheDir": str(cache)},
    )
    controller = build_controller(
        settings, lambda ns, name: config_maps.get((ns, name)), in_cluster=False
    )
    name = job["metadata"]["name"]
    started = datetime.now(UTC)
    click.echo(COLUMNS.format("NAME", "PHASE", "PROGRESS", "TIER", "VIDEO"))

    def on_status(status: Mapping[str, Any]) -> None:
        click.echo(
            COLUMNS.format(
                name,
                status.get("phase") or "",
                status.get("progress") or "",
                (status.get("stitch") or {}).get("tier") or "",
                status.get("videoUri") or "",
            )
        )

    def on_event(event: Emit) -> None:
        age = (datetime.now(UTC) - started).total_seconds()
        click.echo(f"  {age:5.1f}s  {event.type:<7} {event.reason:<14} {event.message}", err=True)

    try:
        final = run_job(controller, job, on_status, on_event)
    finally:
        controller.executor.close()
    if output_format == "yaml":
        click.echo(yaml.safe_dump(final, sort_keys=False))
    if final["status"].get("phase") != "Succeeded":
        conditions = final["status"].get("conditions") or [{}]
        reason = conditions[-1].get("reason", "Failed")
        raise _JobFailed(f"RenderJob {name} failed ({reason}): {conditions[-1].get('message', '')}")


class _JobFailed(ChalklineError):
    """The job ran and failed; its status says why."""


def _load(path: Path) -> list[Any]:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        return list(yaml.safe_load_all(text))
    except FileNotFoundError:
        raise InvalidSpec(f"manifest not found: {path}") from None
    except yaml.YAMLError as err:
        raise InvalidSpec(f"{path}: not valid YAML: {err}") from None
