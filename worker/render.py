"""Render one :class:`RenderTask` in this process with Manim's Python API.

Manim is imported lazily so that importing this module is cheap; the local
pool imports it once in a warm parent and forks a fresh child per task, which
keeps Manim's global ``config`` and the user's module isolated per task.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from chalkline.core.errors import RenderFailed, SceneNotFound
from chalkline.core.outputs import atomic_output, write_text_atomic
from chalkline.core.probe import probe_clip
from chalkline.core.quality import quality_named
from chalkline.core.records import ClipManifest
from chalkline.worker.task import RenderTask

#: Called with the number of animations played so far in the scene.
ProgressCallback = Callable[[int], None]

TRACEBACK_FRAMES = 4


def render_task(task: RenderTask, on_progress: ProgressCallback | None = None) -> ClipManifest:
    """Render ``task`` and write its clip and JSON manifest into ``task.output_dir``.

    Any exception raised by the user's script becomes :class:`RenderFailed`
    naming the scene and showing the end of the traceback in the script.
    """
    import manim

    started = time.monotonic()
    quality = quality_named(task.quality)
    task.media_dir.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {
        "media_dir": str(task.media_dir),
        "quality": quality.manim_name,
        "input_file": str(task.script),
        "disable_caching": not task.use_cache,
        "write_to_movie": True,
        "preview": False,
        "progress_bar": "none",
        "verbosity": "WARNING",
        "save_last_frame": False,
    }
    if task.animations is not None:
        # Manim runs construct() from the start, skipping the animations before
        # START, so the chunk's first frame is the scene's state at START.
        settings["from_animation_number"], settings["upto_animation_number"] = task.animations
    if task.seed is not None:
        settings["seed"] = task.seed
    with manim.tempconfig(settings):
        scene_class = _load_scene_class(task)
        movie = _render_scene(task, scene_class, on_progress)
        if movie is not None:
            with atomic_output(task.clip_path) as tmp:
                shutil.copyfile(movie, tmp)
    seconds = time.monotonic() - started
    if movie is None:
        manifest = _empty_manifest(task, seconds, manim.__version__)
    else:
        manifest = _manifest_for(task, seconds, manim.__version__)
    write_text_atomic(task.manifest_path, manifest.to_json())
    return manifest


def _load_scene_class(task: RenderTask) -> type:
    """Execute the user's script as a module and return the scene's class."""
    module = _import_script(task)
    scene_class = getattr(module, task.scene, None)
    if not isinstance(scene_class, type):
        raise SceneNotFound(f"scene {task.scene!r} is not a class in {task.script}")
    return scene_class


def _import_script(task: RenderTask) -> ModuleType:
    script = task.script.resolve()
    # Scripts import their neighbours (helpers, assets) as Manim allows.
    sys.path.insert(0, str(script.parent))
    spec = importlib.util.spec_from_file_location(script.stem, script)
    if spec is None or spec.loader is None:
        raise RenderFailed(f"cannot load {task.script} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[script.stem] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise RenderFailed(
            f"script {task.script} raised while loading (before scene {task.scene!r}): "
            f"{type(err).__name__}: {err}\n{user_traceback(err, script)}"
        ) from None
    return module


def _render_scene(
    task: RenderTask, scene_class: type, on_progress: ProgressCallback | None
) -> Path | None:
    """Run the scene and return the movie file Manim wrote.

    ``None`` means the scene played nothing (an abstract base scene, say):
    Manim writes no movie for it, and there is nothing to stitch.
    """
    try:
        scene = scene_class()
        if on_progress is not None:
            _report_plays(scene, on_progress)
        scene.render()
    except Exception as err:
        raise RenderFailed(
            f"scene {task.scene!r} failed: {type(err).__name__}: {err}"
            f"\n{user_traceback(err, task.script.resolve())}"
        ) from None
    movie = Path(scene.renderer.file_writer.movie_file_path)
    return movie if movie.is_file() and scene.renderer.num_plays else None


def _report_plays(scene: Any, on_progress: ProgressCallback) -> None:
    """Wrap the renderer's ``play`` so each finished animation is reported."""
    renderer = scene.renderer
    original_play = renderer.play

    def play(*args: Any, **kwargs: Any) -> Any:
        result = original_play(*args, **kwargs)
        on_progress(int(renderer.num_plays))
        return result

    renderer.play = play


def user_traceback(err: BaseException, script: Path) -> str:
    """The end of the traceback, preferring frames inside the user's script.

    The exception itself is left to the caller's headline, so it is said once.
    """
    frames = traceback.extract_tb(err.__traceback__)
    mine = [f for f in frames if Path(f.filename).resolve() == script]
    chosen = (mine or frames)[-TRACEBACK_FRAMES:]
    return "".join(traceback.format_list(chosen)).rstrip()


def _empty_manifest(task: RenderTask, seconds: float, manim_version: str) -> ClipManifest:
    """The manifest of a scene that played no animation: no clip, zero frames."""
    quality = quality_named(task.quality)
    return ClipManifest(
        index=task.index,
        scene=task.scene,
        clip="",
        frames=0,
        duration=0.0,
        size_bytes=0,
        width=quality.width,
        height=quality.height,
        fps=float(quality.fps),
        has_audio=False,
        render_seconds=round(seconds, 3),
        manim_version=manim_version,
        quality=task.quality,
    )


def _manifest_for(task: RenderTask, seconds: float, manim_version: str) -> ClipManifest:
    info = probe_clip(task.clip_path)
    return ClipManifest(
        index=task.index,
        scene=task.scene,
        clip=task.clip_name,
        frames=info.frames,
        duration=round(info.duration, 4),
        size_bytes=info.size_bytes,
        width=info.width,
        height=info.height,
        fps=float(info.fps),
        has_audio=info.has_audio,
        render_seconds=round(seconds, 3),
        manim_version=manim_version,
        quality=task.quality,
    )
