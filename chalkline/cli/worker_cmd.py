"""``chalkline worker``: render exactly one task; the unit remote backends run.

Two modes. Local: ``--script``, ``--scene`` and ``--output-dir`` name
everything on this machine. Planned: ``--plan URI`` names a render plan in
storage and the task index (``CLOUD_RUN_TASK_INDEX`` on Cloud Run) picks the
task, which is how every task of one Cloud Run execution runs the same command.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from chalkline.cli.options import quality_option, refuse_options_beside_plan
from chalkline.core.errors import InvalidSpec
from chalkline.core.layout import clip_name, script_hash
from chalkline.core.outputs import check_writable_folder
from chalkline.core.records import PLAN_ENV, TASK_INDEX_ENVS, ClipManifest
from chalkline.core.scenes import discover_scenes_in_file, select_scenes
from chalkline.drivers.local_render import default_cache_dir
from chalkline.worker.render import render_task
from chalkline.worker.task import RenderTask, default_media_dir

#: Options of the local mode, as their parameter names, and as a user types them.
LOCAL_OPTIONS = {
    "script": "--script",
    "scene": "--scene",
    "output_dir": "--output-dir",
    "quality": "--quality",
    "index": "--index",
    "animations": "--animations",
    "seed": "--seed",
    "media_dir": "--media-dir",
    "no_cache": "--no-cache",
}


@click.command()
@click.option(
    "--plan",
    envvar=PLAN_ENV,
    metavar="URI",
    help=f"Render plan (gs:// or file://) to take the task from; env {PLAN_ENV}. "
    "Replaces --script, --scene and --output-dir.",
)
@click.option(
    "--task-index",
    type=click.IntRange(min=0),
    default=None,
    help="With --plan: which planned task to run "
    f"(default: env {' or '.join(TASK_INDEX_ENVS)}, else 0).",
)
@click.option("--script", type=click.Path(path_type=Path), help="The Manim script.")
@click.option("--scene", help="The one Scene class to render.")
@quality_option
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path),
    help="Existing folder that receives SCENE-QUALITY-DIGEST.mp4 and its .json manifest.",
)
@click.option(
    "--index",
    default=0,
    type=click.IntRange(min=0),
    show_default=True,
    help="The task's place in the video, recorded in the manifest.",
)
@click.option(
    "--animations",
    metavar="START,END",
    default=None,
    help="Render only animations START to END of the scene (inclusive; every play and "
    "wait counts, as manim's -n): one chunk of a long scene.",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed the script's random numbers (as manim's --seed), so chunks of a scene "
    "draw what the whole scene draws.",
)
@click.option(
    "--media-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Manim's media folder for this task (default: a per-scene folder in the cache).",
)
@click.option("--no-cache", is_flag=True, help="Render every animation afresh.")
@click.pass_context
def worker(
    ctx: click.Context,
    plan: str | None,
    task_index: int | None,
    script: Path | None,
    scene: str | None,
    quality: str,
    output_dir: Path | None,
    index: int,
    animations: str | None,
    seed: int | None,
    media_dir: Path | None,
    no_cache: bool,
) -> None:
    """Render one scene into a clip, with a JSON manifest beside it.

    The manifest records scene, frames, duration, size in bytes, resolution,
    fps, whether it has audio, render seconds and the Manim version; it is
    also printed on stdout. This command is what a Cloud Run task or a
    Kubernetes Job runs for each scene; it needs nothing but the package.

    \b
    Local:   chalkline worker --script S.py --scene Intro --output-dir clips/
    Planned: chalkline worker --plan gs://bucket/jobs/j/plan.json [--task-index N]

    A planned task that already stored its clip and manifest (a retried
    attempt) does nothing and prints the stored manifest.
    """
    if plan is not None:
        refuse_options_beside_plan(
            ctx,
            plan,
            LOCAL_OPTIONS,
            hint="a plan names the script, scene, quality and clip of every task",
        )
        if task_index is None:
            task_index = _task_index_from_env()
        manifest = _run_planned(plan, task_index)
    elif script is None or scene is None or output_dir is None:
        raise InvalidSpec(
            "give either --plan URI, or all of --script, --scene and --output-dir",
            hint=f"a Cloud Run task gets its plan from {PLAN_ENV}; see `chalkline worker --help`",
        )
    elif task_index is not None:
        raise InvalidSpec("--task-index picks a task of a --plan; locally use --index")
    else:
        chunk = parse_animation_range(animations) if animations is not None else None
        manifest = _run_local(
            script, scene, quality, output_dir, index, chunk, seed, media_dir, no_cache
        )
    click.echo(manifest.to_json(), nl=False)


def _task_index_from_env() -> int:
    """The index the platform gave this container (Cloud Run or an Indexed Job), else 0."""
    variable = next((name for name in TASK_INDEX_ENVS if os.environ.get(name)), None)
    if variable is None:
        return 0
    text = os.environ[variable]
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidSpec(f"{variable}={text!r} is not a task index (0, 1, 2, ...)")
    return value


def _run_planned(plan: str, task_index: int) -> ClipManifest:
    from chalkline.worker.planned_task import run_planned_task

    with tempfile.TemporaryDirectory(prefix="chalkline-worker-") as scratch:
        return run_planned_task(plan, task_index, Path(scratch))


def _run_local(
    script: Path,
    scene: str,
    quality: str,
    output_dir: Path,
    index: int,
    animations: tuple[int, int] | None,
    seed: int | None,
    media_dir: Path | None,
    no_cache: bool,
) -> ClipManifest:
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
        clip_name=clip_name(
            scene, quality, script_hash(script.read_text(encoding="utf-8")), animations
        ),
        use_cache=not no_cache,
        animations=animations,
        seed=seed,
    )
    return render_task(task)


def parse_animation_range(text: str) -> tuple[int, int]:
    """``"2,5"`` -> ``(2, 5)``: an inclusive range of animation numbers, as manim's -n takes."""
    first, _, last = text.partition(",")
    try:
        start, end = int(first), int(last)
    except ValueError:
        start, end = -1, -1
    if not 0 <= start <= end:
        raise InvalidSpec(
            f"--animations {text!r} is not START,END",
            hint="two animation numbers, 0 <= START <= END, e.g. --animations 0,6",
        )
    return start, end
