"""Which way clips are joined, and the FFmpeg command that does it, as data.

No files and no FFmpeg here: clips are described by hand, and the compiled
arguments are read like any list of strings.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from chalkline.core.errors import InvalidSpec
from chalkline.core.probe import ClipInfo
from chalkline.stitcher.recipe import (
    StitchRecipe,
    build_ffmpeg_args,
    choose_recipe,
    concat_list_text,
)

OUTPUT = Path("/out/reel.mp4")
CONCAT_LIST = Path("/tmp/work/clips.txt")

SILENT = ClipInfo(
    path=Path("/clips/a.mp4"),
    size_bytes=1_000_000,
    duration=4.0,
    video_codec="h264",
    width=854,
    height=480,
    fps=Fraction(15),
    pix_fmt="yuv420p",
    frames=60,
    has_audio=False,
    audio_codec=None,
    sample_rate=None,
    channels=None,
    channel_layout=None,
    audio_duration=None,
    video_duration=4.0,
)
WITH_AUDIO = dataclasses.replace(
    SILENT,
    has_audio=True,
    audio_codec="aac",
    sample_rate=44100,
    channels=2,
    channel_layout="stereo",
    audio_duration=4.0,
)


def clip(base: ClipInfo, name: str, **changes: Any) -> ClipInfo:
    return dataclasses.replace(base, path=Path("/clips") / name, **changes)


def value_after(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def values_after(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == flag]


def args_for(plan: StitchRecipe, clips: list[ClipInfo]) -> list[str]:
    return build_ffmpeg_args(plan, clips, OUTPUT, CONCAT_LIST)


# -- the decision ------------------------------------------------------------

SAME = [clip(SILENT, f"{n}.mp4") for n in "abcd"]
SAME_WITH_AUDIO = [clip(WITH_AUDIO, f"{n}.mp4") for n in "abc"]
WIDE = clip(SILENT, "b.mp4", width=1280, height=720)
FAST = clip(SILENT, "b.mp4", fps=Fraction(30), frames=120)
FULL_CHROMA = clip(SILENT, "b.mp4", pix_fmt="yuv444p")
HEVC = clip(SILENT, "b.mp4", video_codec="hevc")
AT_48K = clip(WITH_AUDIO, "b.mp4", sample_rate=48000)
MIXED_RATES = [WITH_AUDIO, AT_48K]
MONO = clip(WITH_AUDIO, "b.mp4", channels=1, channel_layout="mono")
NTSC = clip(SILENT, "a.mp4", fps=Fraction(30000, 1001))
NTSC_ROUNDED = clip(SILENT, "b.mp4", fps=Fraction(2997, 100))


def case(name: str, clips: list[ClipInfo], mode: str, audio: str, **options: Any) -> Any:
    return pytest.param(clips, options, mode, audio, id=name)


@pytest.mark.parametrize(
    ("clips", "options", "mode", "audio"),
    [
        case("same format, silent", SAME, "copy", "none"),
        case("same format, audio is re-encoded", SAME_WITH_AUDIO, "copy", "reencode"),
        case("copy_audio", SAME_WITH_AUDIO, "copy", "copy", copy_audio=True),
        case("one clip is remuxed", SAME[:1], "copy", "none"),
        case("mixed resolution", [SILENT, WIDE], "reencode", "none"),
        case("mixed frame rate", [SILENT, FAST], "reencode", "none"),
        case("mixed pixel format", [SILENT, FULL_CHROMA], "reencode", "none"),
        case("mixed codec", [SILENT, HEVC], "reencode", "none"),
        case("one clip without audio", [WITH_AUDIO, SILENT], "reencode", "reencode"),
        case("mixed sample rate", MIXED_RATES, "reencode", "reencode"),
        case("mixed channels", [WITH_AUDIO, MONO], "reencode", "reencode"),
        case("resampling beats copy_audio", MIXED_RATES, "reencode", "reencode", copy_audio=True),
        case("other resolution asked", SAME, "reencode", "none", resolution=(1280, 720)),
        case("same resolution asked", SAME, "copy", "none", resolution=(854, 480)),
        case("other frame rate asked", SAME, "reencode", "none", fps=Fraction(30)),
        case("same frame rate asked", SAME, "copy", "none", fps=Fraction(15)),
        case("re-encode forced", SAME, "reencode", "none", force_reencode=True),
        case("29.97 written two ways is one rate", [NTSC, NTSC_ROUNDED], "copy", "none"),
    ],
)
def test_plan_mode_and_audio(
    clips: list[ClipInfo], options: dict[str, Any], mode: str, audio: str
) -> None:
    plan = choose_recipe(clips, **options)
    assert (plan.mode, plan.audio) == (mode, audio)


def test_copy_reason_names_what_the_clips_share() -> None:
    assert choose_recipe(SAME).reason == "all 4 clips share h264 854x480 15 fps yuv420p, no audio"


def test_reencode_reason_names_the_first_clip_that_differs() -> None:
    odd = clip(SILENT, "b.mp4", width=1280, height=720, fps=Fraction(30))
    plan = choose_recipe([SILENT, SILENT, odd])
    assert (
        plan.reason == "clip 3 (b.mp4) is 1280x720 at 30 fps, clip 1 (a.mp4) is 854x480 at 15 fps"
    )


def test_reencode_targets_the_first_clip_unless_told_otherwise() -> None:
    clips = [SILENT, clip(SILENT, "b.mp4", width=1080, height=1920, fps=Fraction(30))]
    first = choose_recipe(clips)
    assert (first.resolution, first.fps) == ("854x480", Fraction(15))
    told = choose_recipe(clips, resolution=(1080, 1920), fps=Fraction(30))
    assert (told.resolution, told.fps) == ("1080x1920", Fraction(30))


def test_odd_sizes_are_rounded_up_to_even_for_h264() -> None:
    plan = choose_recipe([clip(SILENT, "a.mp4", width=853, height=479)], force_reencode=True)
    assert plan.resolution == "854x480"


def test_audio_format_is_kept_when_shared_else_48k_stereo() -> None:
    shared = choose_recipe([WITH_AUDIO, clip(SILENT, "b.mp4")])
    assert (shared.sample_rate, shared.channel_layout) == (44100, "stereo")
    mixed = choose_recipe(
        [WITH_AUDIO, clip(WITH_AUDIO, "b.mp4", channels=1, channel_layout="mono")]
    )
    assert (mixed.sample_rate, mixed.channel_layout) == (48000, "stereo")


def test_expected_duration_is_the_sum_of_the_videos() -> None:
    assert choose_recipe(SAME).duration == pytest.approx(16.0)


@pytest.mark.parametrize("size", [(0, 480), (854, -2)])
def test_sizes_must_be_positive(size: tuple[int, int]) -> None:
    with pytest.raises(InvalidSpec, match="must be positive"):
        choose_recipe(SAME, resolution=size)


def test_frame_rate_must_be_positive() -> None:
    with pytest.raises(InvalidSpec, match="frame rate 0 must be positive"):
        choose_recipe(SAME, fps=Fraction(0))


def test_no_clips_is_a_user_error() -> None:
    with pytest.raises(InvalidSpec, match="at least one clip"):
        choose_recipe([])


# -- the command -------------------------------------------------------------


def test_copy_reads_the_concat_list_and_copies_the_video() -> None:
    args = args_for(choose_recipe(SAME_WITH_AUDIO), SAME_WITH_AUDIO)
    assert value_after(args, "-f") == "concat"
    assert value_after(args, "-safe") == "0"
    assert values_after(args, "-i") == [str(CONCAT_LIST)]
    assert values_after(args, "-map") == ["0:v:0", "0:a:0"]
    assert value_after(args, "-c:v") == "copy"
    assert "-filter_complex" not in args


def test_copy_re_encodes_audio_with_resampling_to_timestamps() -> None:
    args = args_for(choose_recipe(SAME_WITH_AUDIO), SAME_WITH_AUDIO)
    assert value_after(args, "-c:a") == "aac"
    assert value_after(args, "-aac_coder") == "fast"  # the audio encode is the copy's cost
    assert value_after(args, "-af") == "aresample=async=1"


def test_copy_audio_copies_the_audio_packets() -> None:
    args = args_for(choose_recipe(SAME_WITH_AUDIO, copy_audio=True), SAME_WITH_AUDIO)
    assert value_after(args, "-c:a") == "copy"
    assert "-af" not in args


def test_copy_without_audio_maps_only_the_video() -> None:
    args = args_for(choose_recipe(SAME), SAME)
    assert values_after(args, "-map") == ["0:v:0"]
    assert "-c:a" not in args


def test_reencode_normalises_every_clip_before_the_concat_filter() -> None:
    clips = [SILENT, clip(SILENT, "b.mp4", width=1280, height=720, fps=Fraction(30))]
    args = args_for(choose_recipe(clips), clips)
    graph = value_after(args, "-filter_complex")
    assert values_after(args, "-i") == ["/clips/a.mp4", "/clips/b.mp4"]
    for source in ("[0:v]", "[1:v]"):
        assert f"{source}scale=854:480:force_original_aspect_ratio=decrease" in graph
    assert graph.count("pad=854:480:(ow-iw)/2:(oh-ih)/2") == 2
    assert graph.count("setsar=1") == 2
    assert graph.count("fps=fps=15") == 2
    assert graph.count("format=yuv420p") == 2
    assert "concat=a=0:n=2:v=1" in graph
    assert value_after(args, "-c:v") == "libx264"
    assert value_after(args, "-pix_fmt") == "yuv420p"
    assert "-c:a" not in args


def test_reencode_at_a_fractional_rate_keeps_it_exact() -> None:
    args = args_for(choose_recipe(SAME, fps=Fraction(30000, 1001)), SAME)
    assert "fps=fps=30000/1001" in value_after(args, "-filter_complex")


def test_a_clip_without_audio_gets_silence_as_long_as_its_video() -> None:
    quiet = clip(SILENT, "b.mp4", video_duration=2.5, duration=2.5)
    clips = [WITH_AUDIO, quiet, clip(WITH_AUDIO, "c.mp4")]
    args = args_for(choose_recipe(clips), clips)
    silence = "anullsrc=channel_layout=stereo:sample_rate=44100"
    assert silence in values_after(args, "-i")
    assert value_after(args, "-t") == "2.500000"
    graph = value_after(args, "-filter_complex")
    assert "concat=a=1:n=3:v=1" in graph
    assert graph.count("anullsrc") == 0  # a lavfi input, not a filter of the graph
    assert graph.count("atrim=duration=4.000000") == 2
    assert value_after(args, "-c:a") == "aac"


def test_audio_is_padded_or_trimmed_to_its_video() -> None:
    long_audio = clip(WITH_AUDIO, "b.mp4", audio_duration=4.2)
    clips = [WITH_AUDIO, long_audio]
    graph = value_after(
        args_for(choose_recipe(clips, force_reencode=True), clips), "-filter_complex"
    )
    assert graph.count("apad=whole_dur=4.000000") == 2
    assert graph.count("atrim=duration=4.000000") == 2


def test_override_resolution_is_the_scale_and_pad_target() -> None:
    args = args_for(choose_recipe(SAME, resolution=(1080, 1920)), SAME)
    graph = value_after(args, "-filter_complex")
    assert "scale=1080:1920:force_original_aspect_ratio=decrease" in graph
    assert "pad=1080:1920:(ow-iw)/2:(oh-ih)/2" in graph


@pytest.mark.parametrize(
    "plan_options",
    [{}, {"copy_audio": True}, {"force_reencode": True}, {"resolution": (640, 360)}],
)
def test_every_command_is_quiet_reports_progress_and_starts_fast(
    plan_options: dict[str, Any],
) -> None:
    args = args_for(choose_recipe(SAME_WITH_AUDIO, **plan_options), SAME_WITH_AUDIO)
    assert value_after(args, "-movflags") == "+faststart"
    assert value_after(args, "-progress") == "pipe:1"
    assert value_after(args, "-loglevel") == "error"
    assert {"-y", "-nostdin", "-hide_banner"} <= set(args)
    assert str(OUTPUT) in args


def test_concat_list_escapes_quotes_the_way_ffmpeg_reads_them() -> None:
    clips = [clip(SILENT, "a.mp4"), clip(SILENT, "it's.mp4")]
    assert concat_list_text(clips) == "file '/clips/a.mp4'\nfile '/clips/it'\\''s.mp4'\n"


def test_relative_paths_become_absolute_so_colons_are_not_protocols() -> None:
    odd = clip(SILENT, "x")
    odd = dataclasses.replace(odd, path=Path("take:2.mp4"))
    assert values_after(args_for(choose_recipe([odd], force_reencode=True), [odd]), "-i") == [
        str(Path.cwd() / "take:2.mp4")
    ]


def test_a_clip_listed_twice_is_opened_once_per_use() -> None:
    clips = [WITH_AUDIO, clip(WITH_AUDIO, "b.mp4"), WITH_AUDIO]
    args = args_for(choose_recipe(clips, force_reencode=True), clips)
    assert values_after(args, "-i") == ["/clips/a.mp4", "/clips/b.mp4", "/clips/./a.mp4"]
    assert "split" not in value_after(args, "-filter_complex")


def test_two_silences_of_one_length_are_split_from_one_source() -> None:
    clips = [WITH_AUDIO, clip(SILENT, "b.mp4"), clip(SILENT, "c.mp4")]
    args = args_for(choose_recipe(clips), clips)
    assert sum("anullsrc" in arg for arg in values_after(args, "-i")) == 1
    assert "asplit=2" in value_after(args, "-filter_complex")
