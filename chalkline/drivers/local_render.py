"""The embedded pipeline: one task per scene, rendered in parallel, then stitched.

Everything is checked before any work starts (quality, output folder, script,
scene names), so bad input fails in milliseconds and changes nothing. Clips
live in a private temporary folder that is always removed; only the finished
video is renamed into place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chalkline.core.errors import InvalidScript
from chalkline.core.layout import clip_name, script_hash
from chalkline.core.outputs import check_video_output
from chalkline.core.quality import quality_named
from chalkline.core.records import ClipManifest
from chalkline.core.scenes import discover_scenes_in_file, select_scenes
from chalkline.stitcher.concat import StitchReport, stitch_clips
from chalkline.worker.pool import TaskEvent, WarmPool, run_tasks
from chalkline.worker.task import RenderTask, default_media_dir


def default_cache_dir() -> Path:
    """Where Manim's per-scene media folders persist between runs."""
    if env := os.environ.get("CHALKLINE_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chalkline" / "media"


@dataclass(frozen=True)
class RenderRequest:
    """What ``chalkline render`` was asked to do."""

    script: Path
    output: Path
    scenes: Sequence[str] = ()
    quality: str = "low"
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    cache_dir: Path = field(default_factory=default_cache_dir)
    use_cache: bool = True


@dataclass(frozen=True)
class RenderResult:
    """The finished video and what it took."""

    output: Path
    manifests: list[ClipManifest]
    stitch: StitchReport
    render_seconds: float
    total_seconds: float


@dataclass(frozen=True)
class RenderHooks:
    """Where progress goes; the CLI passes its display, tests collect events."""

    on_tasks: Callable[[list[RenderTask]], None] = lambda _: None
    on_task: Callable[[TaskEvent], None] = lambda _: None
    on_stitch_start: Callable[[int], None] = lambda _: None
    on_stitch_progress: Callable[[float], None] = lambda _: None


def tasks_for(request: RenderRequest, work_dir: Path) -> list[RenderTask]:
    """Validate the request and return one task per scene, in stitch order."""
    quality_named(request.quality)
    found = discover_scenes_in_file(request.script)
    names = select_scenes(found, request.scenes)
    digest = script_hash(request.script.read_text(encoding="utf-8"))
    return [
        RenderTask(
            index=index,
            script=request.script.resolve(),
            scene=name,
            quality=request.quality,
            output_dir=work_dir,
            media_dir=default_media_dir(request.cache_dir, request.script, name, request.quality),
            clip_name=clip_name(name, request.quality, digest),
            use_cache=request.use_cache,
        )
        for index, name in enumerate(names)
    ]


def render_video(request: RenderRequest, hooks: RenderHooks = RenderHooks()) -> RenderResult:
    """Render every requested scene of the script and stitch them into the output."""
    started = time.monotonic()
    check_video_output(request.output)
    work_dir = Path(tempfile.mkdtemp(prefix="chalkline-render-"))
    try:
        tasks = tasks_for(request, work_dir)
        hooks.on_tasks(tasks)
        pool = WarmPool(min(request.workers, len(tasks)))
        pool.warm_up()
        manifests = run_tasks(pool, tasks, hooks.on_task)
        rendered = time.monotonic()
        clips = [work_dir / m.clip for m in manifests if m.has_clip]
        if not clips:
            raise InvalidScript(
                f"{request.script}: no scene played any animation, so there is nothing to stitch",
                hint="add self.play(...) or self.wait() to a scene's construct()",
            )
        hooks.on_stitch_start(len(clips))
        report = stitch_clips(clips, request.output, on_progress=hooks.on_stitch_progress)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return RenderResult(
        output=request.output,
        manifests=manifests,
        stitch=report,
        render_seconds=rendered - started,
        total_seconds=time.monotonic() - started,
    )
