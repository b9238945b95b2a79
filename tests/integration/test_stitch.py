"""Stitching real clips with the real FFmpeg: what a user gets on disk.

Clips are tiny (160x90, 1 s) so the whole file runs in seconds; the shapes,
not the sizes, are what the behaviour depends on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from chalkline.core.errors import InvalidClip, OutputNotWritable, StitchFailed
from chalkline.core.probe import probe_clip
from chalkline.stitcher.concat import stitch_clips
from tests.support.clips import MakeClip


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """A folder that holds only what the stitch writes, so leftovers show."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def assert_nothing_left(out_dir: Path, tmp_path: Path) -> None:
    assert os.listdir(out_dir) == []
    assert os.listdir(tmp_path / "tmp") == []  # the suite's private TMPDIR


def test_same_format_clips_are_copied_and_last_as_long_as_all_of_them(
    make_clip: MakeClip, out_dir: Path
) -> None:
    clip = make_clip()
    fractions: list[float] = []
    report = stitch_clips([clip, clip, clip], out_dir / "reel.mp4", on_progress=fractions.append)
    assert report.recipe.mode == "copy"
    assert report.recipe.audio == "reencode"
    result = probe_clip(out_dir / "reel.mp4")
    assert result.frames == 45
    assert result.video_duration == pytest.approx(3.0, abs=1 / 15)
    assert result.audio_duration is not None
    assert abs(result.audio_duration - result.video_duration) <= 1 / 15
    assert fractions and fractions[-1] == 1.0
    assert report.output_size_bytes == (out_dir / "reel.mp4").stat().st_size


def test_a_single_clip_is_remuxed(make_clip: MakeClip, out_dir: Path) -> None:
    report = stitch_clips([make_clip()], out_dir / "one.mp4")
    assert (report.recipe.mode, report.result.frames) == ("copy", 15)


def test_mixed_sizes_and_rates_take_the_first_clips_shape(
    make_clip: MakeClip, out_dir: Path
) -> None:
    first = make_clip(width=160, height=90, fps=15)
    other = make_clip(width=120, height=160, fps=30)  # portrait, twice the rate
    report = stitch_clips([first, other], out_dir / "mixed.mp4")
    assert report.recipe.mode == "reencode"
    assert "clip 2" in report.recipe.reason
    result = probe_clip(out_dir / "mixed.mp4")
    assert (result.resolution, result.fps, result.frames) == ("160x90", Fraction(15), 30)


def test_resolution_and_fps_can_be_chosen(make_clip: MakeClip, out_dir: Path) -> None:
    clip = make_clip()
    report = stitch_clips(
        [clip, clip], out_dir / "big.mp4", resolution=(320, 180), fps=Fraction(30)
    )
    assert (report.result.resolution, report.result.frames) == ("320x180", 60)


def test_a_silent_clip_among_clips_with_sound_keeps_sound_and_picture_together(
    make_clip: MakeClip, out_dir: Path
) -> None:
    loud, quiet = make_clip(audio=True), make_clip(audio=False)
    report = stitch_clips([loud, quiet, loud], out_dir / "mix.mp4")
    assert (report.recipe.mode, report.recipe.audio) == ("reencode", "reencode")
    result = probe_clip(out_dir / "mix.mp4")
    assert result.has_audio
    assert result.frames == 45
    assert result.audio_duration is not None
    assert abs(result.audio_duration - result.video_duration) <= 1 / 15


def test_a_text_file_is_refused_and_nothing_is_written(
    make_clip: MakeClip, out_dir: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a video", encoding="utf-8")
    with pytest.raises(InvalidClip, match=r"notes\.txt is not a video"):
        stitch_clips([make_clip(), notes], out_dir / "reel.mp4")
    assert_nothing_left(out_dir, tmp_path)


def test_every_bad_clip_is_named_in_one_error(tmp_path: Path, out_dir: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a video", encoding="utf-8")
    with pytest.raises(InvalidClip) as err:
        stitch_clips([notes, tmp_path / "missing.mp4"], out_dir / "reel.mp4")
    assert "2 of 2 clips" in str(err.value)
    assert "notes.txt" in str(err.value) and "missing.mp4" in str(err.value)


def test_a_cut_off_clip_fails_the_stitch_and_nothing_is_published(
    make_clip: MakeClip, out_dir: Path, tmp_path: Path
) -> None:
    whole = make_clip()
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # headers intact (faststart), frames missing
    with pytest.raises(StitchFailed, match="frames"):
        stitch_clips([whole, cut], out_dir / "reel.mp4")
    assert_nothing_left(out_dir, tmp_path)


def test_ctrl_c_kills_ffmpeg_and_leaves_nothing(
    make_clip: MakeClip, out_dir: Path, tmp_path: Path
) -> None:
    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stitch_clips([make_clip()] * 2, out_dir / "reel.mp4", on_progress=interrupt)
    assert_nothing_left(out_dir, tmp_path)


def test_a_missing_output_folder_fails_before_any_work(tmp_path: Path) -> None:
    # The clip does not exist either: the output is checked first.
    with pytest.raises(OutputNotWritable, match="does not exist"):
        stitch_clips([tmp_path / "missing.mp4"], tmp_path / "nowhere" / "reel.mp4")


def chalkline(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chalkline", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_reports_mode_reason_and_output(make_clip: MakeClip, out_dir: Path) -> None:
    clip = make_clip()
    done = chalkline("stitch", clip, clip, "-o", out_dir / "reel.mp4")
    assert done.returncode == 0, done.stderr
    assert "stitch mode: copy, because both clips share h264 160x90 15 fps" in done.stdout
    assert f"wrote {out_dir / 'reel.mp4'} (2.0 s," in done.stdout


def test_cli_fails_with_one_clear_error_line(tmp_path: Path, out_dir: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a video", encoding="utf-8")
    done = chalkline("stitch", notes, "-o", out_dir / "reel.mp4", "--fps", "30")
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: clip {notes} is not a video: FFmpeg cannot read it "
        "(Invalid data found when processing input)"
    ]
    assert "Traceback" not in done.stderr
    assert os.listdir(out_dir) == []


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--fps", "fast"], "--fps 'fast' is not a frame rate"),
        (["--resolution", "1080p"], "--resolution '1080p' is not WIDTHxHEIGHT"),
        (["--resolution", "1081x1920"], "must be an even number"),
    ],
)
def test_cli_rejects_bad_options_clearly(
    make_clip: MakeClip, out_dir: Path, option: list[str], message: str
) -> None:
    done = chalkline("stitch", make_clip(), "-o", out_dir / "reel.mp4", *option)
    assert done.returncode == 1
    assert message in done.stderr
