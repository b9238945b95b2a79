"""Run a stitch: check, probe, recipe, run FFmpeg, publish atomically.

The order matters to users: everything that can be known to fail (an output
folder that does not exist, a clip that is not a video) fails before FFmpeg
starts, and a run that fails or is interrupted leaves nothing at the output
path and no temporary file behind.
"""

from __future__ import annotations

import dataclasses
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO

from chalkline.core.errors import (
    ChalklineError,
    InvalidClip,
    InvalidSpec,
    SourceNotFound,
    StitchFailed,
)
from chalkline.core.outputs import atomic_output, check_video_output
from chalkline.core.probe import ClipInfo, probe_clip
from chalkline.stitcher.ffmpeg_exe import ENV_OVERRIDE, ffmpeg_executable
from chalkline.stitcher.recipe import (
    StitchRecipe,
    build_ffmpeg_args,
    choose_recipe,
    concat_list_text,
)

ProgressCallback = Callable[[float], None]

#: Lines of FFmpeg's stderr quoted in an error: enough for the cause, not a wall.
STDERR_TAIL_LINES = 15


@dataclass(frozen=True)
class StitchReport:
    """What a finished stitch did, for the CLI summary and the RenderJob status."""

    output: Path
    recipe: StitchRecipe
    clips: tuple[ClipInfo, ...]
    #: Wall-clock seconds from the first check to the published file.
    seconds: float
    #: The output, probed like any clip.
    result: ClipInfo

    @property
    def output_duration(self) -> float:
        """Seconds of the output video (container duration)."""
        return self.result.duration

    @property
    def output_size_bytes(self) -> int:
        """Size of the output file."""
        return self.result.size_bytes


def stitch_clips(
    paths: Sequence[Path],
    output: Path,
    *,
    resolution: tuple[int, int] | None = None,
    fps: Fraction | None = None,
    copy_audio: bool = False,
    force_reencode: bool = False,
    on_progress: ProgressCallback | None = None,
) -> StitchReport:
    """Join ``paths`` in order into ``output`` (see :func:`choose_recipe` for options).

    ``on_progress`` receives the finished fraction (0.0 to 1.0) as FFmpeg
    advances. Raises a :class:`~chalkline.core.errors.ChalklineError` for anything a
    user can fix, and :class:`~chalkline.core.errors.StitchFailed` when FFmpeg fails.
    """
    started = time.monotonic()
    check_video_output(output)
    _check_output_is_not_an_input(output, paths)
    clips = probe_clips(paths)
    recipe = choose_recipe(
        clips,
        resolution=resolution,
        fps=fps,
        copy_audio=copy_audio,
        force_reencode=force_reencode,
    )
    with (
        tempfile.TemporaryDirectory(prefix="chalkline-stitch-") as work,
        atomic_output(output) as partial,
    ):
        concat_list = Path(work) / "clips.txt"
        concat_list.write_text(concat_list_text(clips), encoding="utf-8")
        args = build_ffmpeg_args(recipe, clips, partial, concat_list)
        run_ffmpeg(args, recipe.duration, Path(work) / "ffmpeg.log", on_progress)
        result = _check_result(partial, recipe, clips)
    return StitchReport(
        output=output,
        recipe=recipe,
        clips=tuple(clips),
        seconds=time.monotonic() - started,
        result=dataclasses.replace(result, path=output),
    )


def _check_output_is_not_an_input(output: Path, paths: Sequence[Path]) -> None:
    """Refuse to replace a source clip with the stitch of itself."""
    target = output.resolve()
    for number, path in enumerate(paths, start=1):
        if path.resolve() == target:
            raise InvalidSpec(
                f"output {output} is also clip {number}; stitching would replace it",
                hint="choose another output name",
            )


def probe_clips(paths: Sequence[Path]) -> list[ClipInfo]:
    """Probe every clip, reporting all the bad ones at once rather than one per run."""
    if not paths:
        raise InvalidSpec("nothing to stitch: give at least one clip")
    clips: list[ClipInfo] = []
    problems: list[ChalklineError] = []
    for path in paths:
        try:
            clips.append(probe_clip(path))
        except (SourceNotFound, InvalidClip) as err:
            problems.append(err)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        kind = (
            SourceNotFound if all(isinstance(p, SourceNotFound) for p in problems) else InvalidClip
        )
        listing = "\n".join(f"  - {problem.message}" for problem in problems)
        raise kind(
            f"{len(problems)} of {len(paths)} clips cannot be stitched:\n{listing}",
            hint="fix or remove these clips and run again",
        )
    return clips


# -- running FFmpeg ----------------------------------------------------------


def run_ffmpeg(
    args: list[str], total_seconds: float, log_path: Path, on_progress: ProgressCallback | None
) -> None:
    """Run FFmpeg to the end, reporting progress; kill it if we are interrupted.

    Stderr goes to ``log_path`` rather than a pipe, so FFmpeg can never block on
    a full pipe while we read its progress from stdout.
    """
    exe = ffmpeg_executable()
    with log_path.open("w+", encoding="utf-8", errors="replace") as log:
        try:
            process = subprocess.Popen(
                [exe, *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        except OSError as err:
            raise StitchFailed(
                f"cannot run FFmpeg at {exe}: {err.strerror}",
                hint=f"install ffmpeg, or set {ENV_OVERRIDE} to the path of an ffmpeg binary",
            ) from err
        try:
            assert process.stdout is not None  # guaranteed by stdout=PIPE
            _follow_progress(process.stdout, total_seconds, on_progress)
            code = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        if code != 0:
            log.seek(0)
            raise StitchFailed(
                f"FFmpeg failed with exit code {code}:\n{_tail(log)}",
                hint="if the clips differ in ways the probe missed, try a full re-encode "
                "(chalkline stitch --reencode)",
            )


def _follow_progress(
    lines: Iterable[str], total_seconds: float, on_progress: ProgressCallback | None
) -> None:
    """Turn FFmpeg's ``-progress`` key=value stream into finished fractions."""
    for line in lines:
        if on_progress is None:
            continue
        key, _, value = line.strip().partition("=")
        if key == "out_time_us" and value.isdigit() and total_seconds > 0:
            on_progress(min(1.0, int(value) / 1e6 / total_seconds))
        elif key == "progress" and value == "end":
            on_progress(1.0)


def _tail(log: IO[str]) -> str:
    lines = [line.rstrip() for line in log if line.strip()]
    return "\n".join(f"  {line}" for line in lines[-STDERR_TAIL_LINES:]) or "  (no message)"


# -- checking the result -----------------------------------------------------


def _check_result(partial: Path, recipe: StitchRecipe, clips: Sequence[ClipInfo]) -> ClipInfo:
    """Probe what FFmpeg wrote, and count its frames, before publishing it.

    FFmpeg can exit 0 with a short or broken file: a stream copy of clips that
    differ in ways the headers hide, or a clip cut off mid-way (its headers
    still promise the full length). Allow one frame of rounding per clip.
    """
    try:
        result = probe_clip(partial)
    except ChalklineError as err:
        raise StitchFailed(f"FFmpeg finished but wrote no readable video: {err.message}") from err
    expected = expected_frames(recipe, clips)
    if abs(result.frames - expected) > len(clips):
        hint = "check that every clip plays to its end"
        if recipe.mode == "copy":
            hint += "; if they do, re-encode instead (chalkline stitch --reencode)"
        raise StitchFailed(
            f"the {recipe.mode} stitch holds {result.frames} frames where the clips promise "
            f"{expected}; a clip may be damaged (cut off?)",
            hint=hint,
        )
    return result


def expected_frames(recipe: StitchRecipe, clips: Sequence[ClipInfo]) -> int:
    """Frames the output should have: copied as they are, or resampled to the recipe's rate."""
    if recipe.mode == "copy":
        return sum(clip.frames for clip in clips)
    return sum(round(clip.video_duration * recipe.fps) for clip in clips)
