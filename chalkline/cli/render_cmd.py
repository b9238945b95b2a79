"""``chalkline render``: a script's scenes, rendered in parallel, as one video."""

from __future__ import annotations

import os
from pathlib import Path

import click

from chalkline.cli.options import quality_option
from chalkline.cli.remote_options import RemoteOptions, remote_options
from chalkline.drivers.local_render import (
    RenderHooks,
    RenderRequest,
    default_cache_dir,
    render_video,
)
from chalkline.drivers.progress import make_display, stitch_summary
from chalkline.drivers.remote_render import (
    RemoteRequest,
    RemoteTarget,
    remote_summary,
    render_remotely,
)


@click.command()
@click.argument("script", type=click.Path(path_type=Path))
@click.argument("scene_names", metavar="[SCENE]...", nargs=-1)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="The video to write (.mp4). Its folder must exist; written only when complete.",
)
@quality_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=lambda: os.cpu_count() or 1,
    show_default="CPU count",
    help="Scenes rendered at the same time.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=default_cache_dir,
    show_default="$CHALKLINE_CACHE_DIR or ~/.cache/chalkline/media",
    help="Where Manim's per-scene media folders persist, so re-runs re-use animations.",
)
@click.option("--no-cache", is_flag=True, help="Render every animation afresh.")
@click.option(
    "--progress/--no-progress",
    "live",
    default=None,
    help="Live progress table (default: when stdout is a terminal) or plain lines.",
)
@remote_options
def render(
    script: Path,
    scene_names: tuple[str, ...],
    output: Path,
    quality: str,
    workers: int,
    cache_dir: Path,
    no_cache: bool,
    live: bool | None,
    remote: RemoteOptions,
) -> None:
    """Render SCRIPT's scenes in parallel and stitch them into one video.

    One task per scene (all scenes in file order, or the SCENEs named, in the
    order given) runs in a pool of worker processes that import Manim once.
    The clips are joined in order with FFmpeg (stream copy when they share a
    format) and the result is written to OUTPUT.

    With --backend cloudrun the same tasks run as Cloud Run Jobs, and with
    --backend kubernetes as Jobs on the cluster of the current kubeconfig
    context, the way the operator runs them, with files in --bucket; the
    video is downloaded to OUTPUT and the bucket's copies are deleted
    (--workers and --no-cache apply to local renders only).

    \b
    Examples:
      chalkline render examples/shapes.py -o out/shapes.mp4
      chalkline render examples/shapes.py Intro Outro -o out/short.mp4 -q medium
      chalkline render examples/shapes.py -o out/shapes.mp4 --backend cloudrun \\
        --project my-project --region europe-west1 --bucket my-bucket \\
        --image europe-docker.pkg.dev/my-project/chalkline/worker:1.0
      chalkline render examples/shapes.py -o out/shapes.mp4 --backend kubernetes \
        --bucket my-bucket --image ghcr.io/chalkline/chalkline-worker:0.1.0
    """
    if remote.remote:
        _render_remotely(script, scene_names, output, quality, cache_dir, live, remote.target())
        return
    remote.refuse_when_local()
    request = RenderRequest(
        script=script,
        output=output,
        scenes=scene_names,
        quality=quality,
        workers=workers,
        cache_dir=cache_dir,
        use_cache=not no_cache,
    )
    with make_display(live) as display:
        hooks = RenderHooks(
            on_tasks=display.show_tasks,
            on_task=display.task,
            on_stitch_start=display.stitch_start,
            on_stitch_progress=display.stitch_progress,
        )
        result = render_video(request, hooks)
    click.echo(stitch_summary(result.stitch, result.total_seconds))


def _render_remotely(
    script: Path,
    scene_names: tuple[str, ...],
    output: Path,
    quality: str,
    cache_dir: Path,
    live: bool | None,
    target: RemoteTarget,
) -> None:
    request = RemoteRequest(script, output, scene_names, quality, cache_dir)
    with make_display(live) as display:
        result = render_remotely(request, target, display)
    click.echo(remote_summary(result))
