"""The dry pass: run a scene's construct() without drawing a frame, to plan chunks.

A long scene can be split into chunks by animation range (Manim's ``-n
START,END``), each rendered as its own task and joined by stream copy. Every
chunk re-runs construct() and *skips* the animations before START, so the
plan needs each animation's run time and what skipping costs, and it must
know when skipping changes what a chunk draws. :func:`analyze_scene` runs the
scene the way a chunk skips its prefix (``from_animation_number`` past the
last animation, with Manim's ``dry_run`` so no media is written) and watches
it.

A skipped animation is stepped once, by its whole run time, where a rendered
one is stepped frame by frame; and the renderer's clock, sounds and random
draws follow the skipping. So a border is unsafe when any of these happen
(each reason names the animation index; a chunk starting after it differs
from the whole scene):

- a mobject in the scene (or an animation's mobject) has a time-based updater
  (``dt``), or the scene has an updater of its own;
- an updater without ``dt`` changes its mobject again on every call (it is
  called once per frame when rendering, once per animation when skipping):
  probed by calling it twice on a copy;
- the scene adds a sound (``add_sound`` is dropped while skipping);
- the scene reads ``self.time`` after an animation whose run time is not a
  whole number of frames (a skipped animation advances the clock by its run
  time, a rendered one by its frames);
- random numbers are drawn from ``random`` or ``numpy.random`` while an
  animation's frames are computed (the number of draws follows the frames), or
  anywhere in construct() when no seed is set: Manim seeds both generators
  from ``config.seed`` before construct(), but that is None by default, so each
  chunk's process would draw different numbers. Pass the seed the chunks are
  rendered with.

Not detected: updaters whose repeated calls change *other* objects than the
one they are attached to, randomness from generators of the script's own
(``numpy.random.default_rng()``, ``random.Random()``), the wall clock, files
or anything else outside the scene, and reads of ``self.renderer.time``.

Like :func:`chalkline.worker.render.render_task`, this runs in the calling
process and changes its global state (Manim's ``config`` is restored, but the
script's module stays imported): run it in a fresh or forked process.
"""

from __future__ import annotations

import inspect
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalkline.core.errors import RenderFailed
from chalkline.core.quality import quality_named
from chalkline.worker.render import _load_scene_class, user_traceback
from chalkline.worker.task import RenderTask

#: Two fingerprints of a probed mobject closer than this are the same state.
TOLERANCE = 1e-7
#: Seconds by which a skipped and a rendered animation may move the clock apart.
CLOCK_TOLERANCE = 1e-9
#: Skip every animation: larger than any scene's count (Manim's ``-n START``).
SKIP_ALL = 2**62


@dataclass(frozen=True)
class SceneAnalysis:
    """What the dry pass learnt about one scene at one quality."""

    scene: str
    quality: str
    #: Animations the scene plays: every play and wait counts, as Manim's ``-n``.
    animations: int
    #: Each animation's duration in seconds, in order, as Manim computed it.
    run_times: tuple[float, ...]
    #: Each animation's frames when rendered at this quality: a play draws
    #: ceil(run time x fps), a frozen wait floor(run time x fps).
    frames: tuple[int, ...]
    #: Wall time of running the scene with every animation skipped (the scene's
    #: set-up and construct(), less the dry pass's own checks): what a chunk
    #: starting after the last animation would pay. Importing Manim and the
    #: script is left out: every task pays it, whatever its range.
    skip_seconds: float
    #: Why chunk borders are unsafe, each naming its animation index; empty: none.
    unsafe: tuple[str, ...] = ()
    #: The random seed the analysis ran with (None: Manim's default, no seed).
    seed: int | None = None

    @property
    def splittable(self) -> bool:
        """True when the scene may be rendered in chunks: two or more animations,
        and nothing that makes a chunk differ from the whole scene."""
        return not self.unsafe and self.animations >= 2

    def to_dict(self) -> dict[str, Any]:
        return {
            "scene": self.scene,
            "quality": self.quality,
            "animations": self.animations,
            "run_times": list(self.run_times),
            "frames": list(self.frames),
            "skip_seconds": self.skip_seconds,
            "unsafe": list(self.unsafe),
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SceneAnalysis:
        try:
            analysis = cls(
                scene=str(data["scene"]),
                quality=str(data["quality"]),
                animations=int(data["animations"]),
                run_times=tuple(float(t) for t in data["run_times"]),
                frames=tuple(int(f) for f in data["frames"]),
                skip_seconds=float(data["skip_seconds"]),
                unsafe=tuple(str(reason) for reason in data.get("unsafe", ())),
                seed=None if data.get("seed") is None else int(data["seed"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not a scene analysis: {err!r}") from None
        if not len(analysis.run_times) == len(analysis.frames) == analysis.animations:
            raise ValueError(
                f"not a scene analysis: {analysis.animations} animations but "
                f"{len(analysis.run_times)} run times and {len(analysis.frames)} frame counts"
            )
        return analysis


def analyze_scene(
    script: Path,
    scene: str,
    quality: str,
    *,
    seed: int | None = None,
    media_dir: Path | None = None,
) -> SceneAnalysis:
    """Run ``scene`` of ``script`` with every animation skipped and report on it.

    ``seed`` is Manim's ``config.seed``: the one the chunks will be rendered
    with. ``media_dir`` is Manim's media folder (a temporary one by default);
    nothing is written to it. A script that raises gives :class:`RenderFailed`
    naming the scene, with the end of the traceback.
    """
    import manim

    preset = quality_named(quality)
    with ExitStack() as stack:
        if media_dir is None:
            media_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dry-pass-")))
        settings: dict[str, Any] = {
            "media_dir": str(media_dir),
            "quality": preset.manim_name,
            "input_file": str(script),
            # No media at all (format "none"), and every animation skipped the
            # way a chunk skips the animations before its START.
            "dry_run": True,
            "format": "none",
            "from_animation_number": SKIP_ALL,
            "upto_animation_number": -1,
            "disable_caching": True,
            "preview": False,
            "progress_bar": "none",
            "verbosity": "WARNING",
        }
        if seed is not None:
            settings["seed"] = seed
            stack.callback(_restore_seed, manim.config, manim.config.seed)
        stack.enter_context(manim.tempconfig(settings))
        task = RenderTask(
            index=0,
            script=script,
            scene=scene,
            quality=quality,
            output_dir=media_dir,
            media_dir=media_dir,
            clip_name="",
        )
        scene_class = _load_scene_class(task)
        watch = _Watch(frame_rate=float(preset.fps))
        started = time.monotonic()
        try:
            instance = watch.scene_class(scene_class, manim.Scene)()
            watch.attach(instance)
            instance.render()
        except Exception as err:
            raise RenderFailed(
                f"scene {scene!r} failed in the dry pass: {type(err).__name__}: {err}"
                f"\n{user_traceback(err, script.resolve())}"
            ) from None
        seconds = time.monotonic() - started - watch.overhead
        watch.check_clock()
    return SceneAnalysis(
        scene=scene,
        quality=quality,
        animations=int(instance.renderer.num_plays),
        run_times=tuple(watch.run_times),
        frames=tuple(watch.frames),
        skip_seconds=round(max(seconds, 0.0), 4),
        unsafe=watch.unsafe,
        seed=seed,
    )


@dataclass
class _Watch:
    """Hooks on one scene instance that record run times and unsafe borders."""

    frame_rate: float
    run_times: list[float] = field(default_factory=list)
    #: Frames each animation has when rendered (Manim's own count).
    frames: list[int] = field(default_factory=list)
    #: (animation index, reason), in the order found.
    reasons: list[tuple[int, str]] = field(default_factory=list)
    #: Seconds spent in the watch's own checks, left out of the skip cost.
    overhead: float = 0.0
    playing: bool = False
    #: The last animation whose end state a read of ``self.time`` can see; -1: none.
    time_seen_until: int = -1
    #: The (mobject, updater) pairs checked, kept alive so that their ids stay theirs.
    seen: dict[tuple[int, int], tuple[Any, Any]] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)
    random_state: tuple[Any, ...] = ()
    scene: Any = None

    @property
    def unsafe(self) -> tuple[str, ...]:
        """The reasons, by animation index."""
        return tuple(reason for _, reason in sorted(self.reasons, key=lambda r: r[0]))

    def report(self, key: str, index: int, reason: str) -> None:
        """Record ``reason`` once per ``key`` (the first animation it applies to)."""
        if key not in self.reported:
            self.reported.add(key)
            self.reasons.append((index, f"animation {index}: {reason}"))

    def scene_class(self, scene_class: type, base: type) -> type:
        """``scene_class``, with reads of ``self.time`` recorded.

        A subclass of the same name; unchanged if the scene defines its own ``time``.
        """
        if inspect.getattr_static(scene_class, "time", None) is not base.__dict__.get("time"):
            return scene_class
        watch = self

        def read_time(scene: Any) -> float:
            watch.time_read(scene)
            return float(scene.renderer.time)

        namespace = {
            "time": property(read_time),
            "__module__": scene_class.__module__,
            "__qualname__": scene_class.__qualname__,
            "__doc__": scene_class.__doc__,
        }
        return type(scene_class)(scene_class.__name__, (scene_class,), namespace)

    def attach(self, scene: Any) -> None:
        self.scene = scene
        renderer = scene.renderer
        play, add_sound = renderer.play, scene.add_sound
        compile_animation_data, play_internal = scene.compile_animation_data, scene.play_internal
        self.random_state = _random_state()

        def watched_play(*args: Any, **kwargs: Any) -> Any:
            with self.checking():
                self.check_random(renderer.num_plays, during_frames=False)
            self.playing = True
            try:
                result = play(*args, **kwargs)
            finally:
                self.playing = False
            with self.checking():
                self.played(scene)
                self.check_random(renderer.num_plays - 1, during_frames=False)
            return result

        def watched_compile(*args: Any, **kwargs: Any) -> Any:
            result = compile_animation_data(*args, **kwargs)
            with self.checking():
                self.check_updaters(scene, renderer.num_plays)
            return result

        def watched_play_internal(*args: Any, **kwargs: Any) -> Any:
            with self.checking():
                self.check_random(renderer.num_plays, during_frames=False)
            result = play_internal(*args, **kwargs)
            with self.checking():
                self.check_random(renderer.num_plays, during_frames=True)
            return result

        def watched_add_sound(sound_file: Any, *args: Any, **kwargs: Any) -> Any:
            index = renderer.num_plays
            self.report(
                f"sound {index}",
                index,
                f"the scene adds a sound ({sound_file!s}) before it; a sound is dropped "
                "while animations are skipped, so a chunk that starts after this point "
                "loses it",
            )
            return add_sound(sound_file, *args, **kwargs)

        renderer.play = watched_play
        scene.compile_animation_data = watched_compile
        scene.play_internal = watched_play_internal
        scene.add_sound = watched_add_sound

    @contextmanager
    def checking(self) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.overhead += time.monotonic() - started

    def played(self, scene: Any) -> None:
        """Record the run time Manim computed for the play that just ended, and
        the frames rendering it draws (Manim's own arithmetic for each kind).

        A wait with a stop condition ends at the frame where the condition holds
        (a skipped one is stepped frame by frame too, so the dry pass sees where),
        not after its full time: its run time is the frames it draws.
        """
        import numpy as np

        duration = float(scene.duration)
        step = 1 / self.frame_rate
        if scene.is_current_animation_frozen_frame():
            frames = int(duration / step)
        else:
            frames = len(np.arange(0, duration, step))
            if scene.stop_condition is not None:
                frames = min(frames, round(float(scene.last_t) / step) + 1)
                duration = frames * step
        self.run_times.append(duration)
        self.frames.append(frames)

    def time_read(self, scene: Any) -> None:
        """``self.time`` was read: note which animations' end it can see."""
        if self.scene is None:
            return
        done = int(scene.renderer.num_plays)
        self.time_seen_until = max(self.time_seen_until, done if self.playing else done - 1)

    def check_clock(self) -> None:
        """Report reads of ``self.time`` that a chunk would see differently.

        A skipped animation advances the scene's clock by its run time, a
        rendered one by its frames; they differ when the run time is not a whole
        number of frames (0.5 s at 15 fps draws 8 frames, 0.533 s).
        """
        step = 1 / self.frame_rate
        for index, (seconds, frames) in enumerate(zip(self.run_times, self.frames, strict=True)):
            if index > self.time_seen_until:
                return
            drawn = frames * step
            if abs(drawn - seconds) > CLOCK_TOLERANCE:
                self.report(
                    "clock",
                    index,
                    f"the scene reads self.time, and this animation lasts {seconds:g} s but "
                    f"draws {frames} frames ({drawn:.4f} s); skipping it advances the "
                    "clock by its run time, rendering it by its frames, so what chunks "
                    "after it read differs",
                )
                return

    def check_random(self, index: int, *, during_frames: bool) -> None:
        """Report draws from ``random``/``numpy.random`` since the last check."""
        state = _random_state()
        drawn = not _same_random_state(state, self.random_state)
        self.random_state = state
        if not drawn:
            return
        if during_frames:
            self.report(
                "random frames",
                index,
                "random numbers are drawn while its frames are "
                "computed (in an animation or an updater); a skipped animation is "
                "stepped once instead of once per frame, so it draws a different "
                "number of times and every later draw differs",
            )
        elif self.scene is not None and self.scene.random_seed is None:
            self.report(
                "random seed",
                index,
                "the scene draws random numbers (random or "
                "numpy.random) with no seed set (Manim's config.seed is None by "
                "default), so each chunk's process draws different numbers; "
                "render the chunks and the dry pass with one seed",
            )

    def check_updaters(self, scene: Any, index: int) -> None:
        """Report the updaters of everything the animation about to play updates.

        A frozen wait (Manim's own choice when nothing in the scene has a
        time-based updater, or ``frozen_frame=True``) calls no updater, whether
        it is rendered or skipped: its updaters are checked when something plays.
        """
        if scene.is_current_animation_frozen_frame():
            return
        for updater in scene.updaters:
            key = (id(scene), id(updater))
            if key in self.seen:
                continue
            self.seen[key] = (scene, updater)
            self.report(
                f"updater {key}",
                index,
                f"the scene has an updater {_name(updater)} "
                "(called with dt); a skipped animation steps it once by the whole "
                "run time, not once per frame, so chunks starting after animation "
                f"{index} drift",
            )
        members: dict[int, Any] = {}
        for mobject in [*scene.mobjects, *_animation_mobjects(scene)]:
            for member in mobject.get_family():
                members.setdefault(id(member), member)
        for member in members.values():
            for updater in member.get_updaters():
                key = (id(member), id(updater))
                if key in self.seen:
                    continue
                self.seen[key] = (member, updater)
                if _takes_dt(updater):
                    self.report(
                        f"updater {key}",
                        index,
                        f"{type(member).__name__} has a time-based updater "
                        f"{_name(updater)} from this animation on; a skipped animation "
                        "steps it once by the whole run time, not once per frame, so "
                        f"chunks starting after animation {index} drift",
                    )
                    continue
                problem = _probe_updater(member, updater)
                if problem is not None:
                    self.report(
                        f"updater {key}",
                        index,
                        f"{type(member).__name__}'s updater {_name(updater)} {problem}",
                    )


def _restore_seed(config: Any, seed: int | None) -> None:
    """Put Manim's seed back: its setter ignores None, so tempconfig cannot."""
    if config.seed != seed:
        config._d["seed"] = seed


def _animation_mobjects(scene: Any) -> Iterator[Any]:
    for animation in scene.animations or ():
        mobject = getattr(animation, "mobject", None)
        if mobject is not None:
            yield mobject


def _takes_dt(updater: Callable[..., Any]) -> bool:
    try:
        return "dt" in inspect.signature(updater).parameters
    except (TypeError, ValueError):
        return True  # cannot tell: assume the worst


def _name(updater: Callable[..., Any]) -> str:
    return str(getattr(updater, "__qualname__", None) or repr(updater))


def _probe_updater(member: Any, updater: Callable[..., Any]) -> str | None:
    """Why calling ``updater`` more or fewer times changes ``member``; None if not.

    When rendering, an updater is called once per frame; when skipping, once
    per animation. That is harmless when a second call changes nothing (it
    places its mobject from other state: ``next_to``, ``always_redraw``), so
    the updater is called twice on a copy of ``member``, and neither the copy
    nor the original (which an updater may name instead of its argument, as
    ``always_redraw``'s does) may change the second time. Random draws it
    makes are undone.
    """
    saved = _random_state()
    try:
        probe = member.copy()
        copied = probe.updaters[member.updaters.index(updater)]
        copied(probe)
        first = _fingerprint(probe) + _fingerprint(member)
        copied(probe)
        second = _fingerprint(probe) + _fingerprint(member)
    except Exception as err:
        return (
            f"could not be checked ({type(err).__name__}: {err}); it is called once "
            "per frame when rendering and once per animation when skipping"
        )
    finally:
        _restore_random_state(saved)
    if not _same_fingerprint(first, second):
        return (
            "changes its mobject again on every call; it is called once per frame "
            "when rendering but once per animation when skipping, so chunks "
            "starting after this animation differ"
        )
    return None


def _fingerprint(mobject: Any) -> list[Any]:
    """The geometry and colours of ``mobject``'s family, as arrays."""
    import numpy as np

    arrays: list[Any] = []
    for member in mobject.get_family():
        for name in ("points", "fill_rgbas", "stroke_rgbas", "background_stroke_rgbas"):
            value = getattr(member, name, None)
            if value is not None:
                arrays.append(np.asarray(value, dtype=float))
    return arrays


def _same_fingerprint(a: list[Any], b: list[Any]) -> bool:
    import numpy as np

    return len(a) == len(b) and all(
        x.shape == y.shape and bool(np.allclose(x, y, rtol=0, atol=TOLERANCE))
        for x, y in zip(a, b, strict=True)
    )


def _random_state() -> tuple[Any, ...]:
    """The states of the global ``random`` and ``numpy.random`` generators."""
    import numpy as np

    return (random.getstate(), np.random.get_state())  # the global generator


def _same_random_state(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    if not a or not b:
        return not a and not b
    if a[0] != b[0]:
        return False
    numpy_a, numpy_b = a[1], b[1]
    return bool(
        numpy_a[0] == numpy_b[0]
        and (numpy_a[1] == numpy_b[1]).all()
        and tuple(numpy_a[2:]) == tuple(numpy_b[2:])
    )


def _restore_random_state(state: tuple[Any, ...]) -> None:
    import numpy as np

    random.setstate(state[0])
    np.random.set_state(state[1])  # the global generator
