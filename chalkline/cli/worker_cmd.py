"""``chalkline worker``: render exactly one task; the unit remote backends run."""

from __future__ import annotations

from pathlib import Path

import click

from chalkline.cli.options import quality_option
from chalkline.errors import InvalidSpec
from chalkline.outputs import check_writable_folder
from chalkline.pipeline import default_cache_dir
from chalkline.scenes import discover_scenes_in_file, select_scenes
from chalkline.worker.render import render_task
from chalkline.worker.task import RenderTask, default_media_dir


@click.command()
@click.option("--script", required=True, type=click.Path(path_type=Path), help="The Manim script.")
@click.option("--scene", required=True, help="The one Scene class to render.")
@quality_option
@click.option(
    "--output-dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Existing folder that receives NNN-SCENE.mp4 and NNN-SCENE.json.",
)
@click.option(
    "--index",
    default=0,
    type=click.IntRange(min=0),
    show_default=True,
    help="The task's place in the video; prefixes the clip's name.",
)
@click.option(
    "--media-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Manim's media folder for this task (default: a per-scene folder in the cache).",
)
@click.option("--no-cache", is_flag=True, help="Render every animation afresh.")
def worker(
    script: Path,
    scene: str,
    quality: str,
    output_dir: Path,
    index: int,
    media_dir: Path | None,
    no_cache: bool,
) -> None:
    """Render one scene of SCRIPT into OUTPUT_DIR, with a JSON manifest beside it.

    The manifest records scene, frames, duration, size in bytes, resolution,
    fps, whether it has audio, render seconds and the Manim version; it is
    also printed on stdout. This command is what a Cloud Run task or a
    Kubernetes Job runs for each scene; it needs nothing but the package.
    """
    check_writable_folder(output_dir)
    select_scenes(discover_scenes_in_file(script), [scene])
    if media_dir is None:
        media_dir = default_media_dir(default_cache_dir(), script, scene, quality)
    if media_dir.exists() and not media_dir.is_dir():
        raise InvalidSpec(f"--media-dir {media_dir} is a file; name a folder")
    task = RenderTask(
        index=index,
        script=script.resolve(),
        scene=scene,
        quality=quality,
        output_dir=output_dir,
        media_dir=media_dir,
        use_cache=not no_cache,
    )
    manifest = render_task(task)
    click.echo(manifest.to_json(), nl=False)
