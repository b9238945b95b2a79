"""How to join the clips: the decision and the FFmpeg command, as plain data.

Two ways to join clips, three orders of magnitude apart in cost:

- **copy**: the concat demuxer copies the compressed video as it is. Ten 8 s
  1080x1920 clips join in about a second. It is only correct when every clip
  has the same codec, size, frame rate and pixel format; otherwise FFmpeg
  writes a broken file and still exits 0. Audio is re-encoded by default
  because copied AAC carries its encoder priming into every join and drifts
  about 21 ms per join; ``aresample=async=1`` fills any gap a short audio
  track leaves, so later clips stay in sync.
- **reencode**: every clip is scaled to fit the target size (keeping its
  aspect ratio), padded centred, given square pixels, the target frame rate
  and ``yuv420p``, then joined by the concat filter and encoded with libx264.
  Each clip's audio is padded or trimmed to its video length (silence for a
  clip without audio), so sound and picture stay together across joins.

Nothing here runs FFmpeg or touches a file: :func:`choose_recipe` and
:func:`build_ffmpeg_args` are pure, so tests assert on them as data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import ffmpeg

from chalkline.core.errors import InvalidSpec
from chalkline.core.probe import ClipInfo
from chalkline.stitcher.modes import StitchMode

VIDEO_ENCODER = "libx264"
#: Speed over size: a stitch job is billed by the second, and crf 18 keeps the
#: re-encoded picture visually identical to its source.
VIDEO_PRESET = "veryfast"
VIDEO_CRF = 18
#: FFmpeg's own AAC encoder; its ``fast`` coder is about 40% quicker than the
#: default ``twoloop`` at a bitrate where the difference is inaudible, and in a
#: copy stitch the audio encode is nearly all the work.
AUDIO_OPTIONS = {"c:a": "aac", "aac_coder": "fast", "b:a": "192k"}
#: Common ground when clips disagree on audio format: what phones record.
DEFAULT_SAMPLE_RATE = 48000
DEFAULT_CHANNEL_LAYOUT = "stereo"

#: Written by every command: quiet stderr (errors only, kept for the report)
#: and machine-readable progress (``out_time_us=...``) on stdout.
GLOBAL_ARGS = ("-nostdin", "-hide_banner", "-loglevel", "error", "-nostats", "-progress", "pipe:1")

AudioHandling = Literal["none", "copy", "reencode"]


@dataclass(frozen=True)
class StitchRecipe:
    """What the stitch will do and why, decided before FFmpeg starts."""

    mode: StitchMode
    reason: str
    width: int
    height: int
    fps: Fraction
    audio: AudioHandling
    #: Output audio format; ``None`` when there is no audio.
    sample_rate: int | None
    channel_layout: str | None
    #: Expected length of the output: the clips' video durations added up.
    duration: float
    #: libx264 settings for a re-encode (a larger stitch tier could afford slower).
    video_preset: str = VIDEO_PRESET
    video_crf: int = VIDEO_CRF

    @property
    def resolution(self) -> str:
        """``"WxH"`` of the output."""
        return f"{self.width}x{self.height}"


def choose_recipe(
    clips: Sequence[ClipInfo],
    *,
    resolution: tuple[int, int] | None = None,
    fps: Fraction | None = None,
    copy_audio: bool = False,
    force_reencode: bool = False,
) -> StitchRecipe:
    """Choose copy when the clips allow it, else a normalising re-encode.

    ``resolution`` and ``fps`` force a re-encode only when they differ from
    the clips; ``copy_audio`` keeps the AAC packets in copy mode (faster, but
    drifts); ``force_reencode`` re-encodes even identical clips (benchmarks).
    """
    if not clips:
        raise InvalidSpec("nothing to stitch: give at least one clip")
    first = clips[0]
    size = resolution or (first.width, first.height)
    rate = fps if fps is not None else first.fps
    _check_target(size, rate)
    why_reencode = _why_reencode(clips, size, rate, force_reencode)
    if why_reencode is None:
        return _copy_recipe(clips, copy_audio)
    return _reencode_recipe(clips, why_reencode, size, rate)


def _check_target(size: tuple[int, int], rate: Fraction) -> None:
    if size[0] <= 0 or size[1] <= 0:
        raise InvalidSpec(f"output size {size[0]}x{size[1]} must be positive")
    if rate <= 0:
        raise InvalidSpec(f"output frame rate {rate} must be positive")


def _copy_recipe(clips: Sequence[ClipInfo], copy_audio: bool) -> StitchRecipe:
    """The output keeps the clips' own format, which they all share."""
    first = clips[0]
    audio = _copy_mode_audio(first, copy_audio)
    return StitchRecipe(
        mode="copy",
        reason=_why_copy(clips, audio),
        width=first.width,
        height=first.height,
        fps=first.fps,
        audio=audio,
        sample_rate=first.sample_rate,
        channel_layout=first.channel_layout,
        duration=_total_video_seconds(clips),
    )


def _reencode_recipe(
    clips: Sequence[ClipInfo], reason: str, size: tuple[int, int], rate: Fraction
) -> StitchRecipe:
    sample_rate, layout = _common_audio_format(clips)
    return StitchRecipe(
        mode="reencode",
        reason=reason,
        width=_even(size[0]),
        height=_even(size[1]),
        fps=rate,
        audio="reencode" if sample_rate is not None else "none",
        sample_rate=sample_rate,
        channel_layout=layout,
        duration=_total_video_seconds(clips),
    )


def _total_video_seconds(clips: Sequence[ClipInfo]) -> float:
    """The output lasts as long as the pictures; audio is fitted to them."""
    return sum(clip.video_duration for clip in clips)


def _even(pixels: int) -> int:
    """libx264 with yuv420p needs even sizes; round up and let pad fill the line."""
    return pixels + pixels % 2


# -- the decision ------------------------------------------------------------


def fps_text(rate: Fraction) -> str:
    """``30`` or ``29.97``: a frame rate as people write it."""
    return str(rate.numerator) if rate.denominator == 1 else f"{float(rate):.3f}".rstrip("0")


def _audio_text(clip: ClipInfo) -> str:
    if not clip.has_audio:
        return "no audio"
    return f"{clip.audio_codec} {clip.sample_rate} Hz {clip.channel_layout} audio"


@dataclass(frozen=True)
class _Trait:
    """One property that must match across clips for a stream copy."""

    key: Callable[[ClipInfo], object]
    text: Callable[[ClipInfo], str]


#: Rates compare as printed (to 0.01 fps): 30000/1001 and 2997/100 both are
#: 29.97 and copy together fine, while 29.97 and 30 do not.
_COPY_TRAITS = (
    _Trait(lambda c: c.video_codec, lambda c: c.video_codec),
    _Trait(lambda c: (c.width, c.height), lambda c: c.resolution),
    _Trait(lambda c: round(float(c.fps), 2), lambda c: f"at {fps_text(c.fps)} fps"),
    _Trait(lambda c: c.pix_fmt, lambda c: c.pix_fmt),
    _Trait(
        lambda c: (c.audio_codec, c.sample_rate, c.channels) if c.has_audio else None,
        lambda c: f"with {_audio_text(c)}" if c.has_audio else "without audio",
    ),
)


def _why_reencode(
    clips: Sequence[ClipInfo], size: tuple[int, int], rate: Fraction, force: bool
) -> str | None:
    """The first reason a stream copy would be wrong, or ``None`` if copy is safe."""
    if force:
        return "a full re-encode was requested"
    first = clips[0]
    for number, clip in enumerate(clips[1:], start=2):
        differing = [t for t in _COPY_TRAITS if t.key(clip) != t.key(first)]
        if differing:
            return (
                f"clip {number} ({clip.path.name}) is {_traits_text(clip, differing)}, "
                f"clip 1 ({first.path.name}) is {_traits_text(first, differing)}"
            )
    if size != (first.width, first.height):
        return f"{size[0]}x{size[1]} was asked for, the clips are {first.resolution}"
    if round(float(rate), 2) != round(float(first.fps), 2):
        return f"{fps_text(rate)} fps was asked for, the clips are at {fps_text(first.fps)} fps"
    return None


def _traits_text(clip: ClipInfo, traits: Sequence[_Trait]) -> str:
    return " ".join(trait.text(clip) for trait in traits)


def _why_copy(clips: Sequence[ClipInfo], audio: AudioHandling) -> str:
    first = clips[0]
    shared = (
        f"{first.video_codec} {first.resolution} {fps_text(first.fps)} fps {first.pix_fmt}, "
        f"{_audio_text(first)}"
    )
    who = {1: "the only clip is", 2: "both clips share"}.get(
        len(clips), f"all {len(clips)} clips share"
    )
    how = {
        "none": "",
        "copy": "; audio copied as asked (may drift about 21 ms per join)",
        "reencode": "; audio re-encoded to AAC to stay in sync",
    }[audio]
    return f"{who} {shared}{how}"


def _copy_mode_audio(first: ClipInfo, copy_audio: bool) -> AudioHandling:
    if not first.has_audio:
        return "none"
    return "copy" if copy_audio else "reencode"


def _common_audio_format(clips: Sequence[ClipInfo]) -> tuple[int | None, str | None]:
    """The clips' shared rate and layout, else 48 kHz stereo; ``None`` if all silent."""
    formats = {(c.sample_rate, c.channel_layout) for c in clips if c.has_audio}
    if not formats:
        return None, None
    if len(formats) == 1:
        rate, layout = formats.pop()
        if rate and layout and " " not in layout:  # PyAV names unknown layouts "3 channels"
            return rate, layout
    return DEFAULT_SAMPLE_RATE, DEFAULT_CHANNEL_LAYOUT


# -- the command -------------------------------------------------------------


def build_ffmpeg_args(
    recipe: StitchRecipe, clips: Sequence[ClipInfo], output: Path, concat_list: Path
) -> list[str]:
    """FFmpeg's arguments (without the executable) that carry out ``recipe``.

    ``concat_list`` is read only in copy mode; write it with
    :func:`concat_list_text` first.
    """
    if recipe.mode == "copy":
        job = _copy_output(recipe, concat_list, output)
    else:
        job = _reencode_output(recipe, clips, output)
    args: list[str] = job.global_args(*GLOBAL_ARGS).overwrite_output().get_args()
    return args


def _copy_output(recipe: StitchRecipe, concat_list: Path, output: Path) -> Any:
    joined = ffmpeg.input(_file_arg(concat_list), f="concat", safe=0)
    streams = [joined["v:0"]]
    options: dict[str, Any] = {"c:v": "copy", "movflags": "+faststart"}
    if recipe.audio != "none":
        streams.append(joined["a:0"])
    if recipe.audio == "copy":
        options["c:a"] = "copy"
    elif recipe.audio == "reencode":
        options.update(AUDIO_OPTIONS, af="aresample=async=1")
    return ffmpeg.output(*streams, _file_arg(output), **options)


def _reencode_output(recipe: StitchRecipe, clips: Sequence[ClipInfo], output: Path) -> Any:
    has_audio = recipe.audio != "none"
    sources = [ffmpeg.input(name) for name in _input_names(clips)]
    segments: list[Any] = [_normalised_video(source, recipe) for source in sources]
    if has_audio:
        audios = [_normalised_audio(s, c, recipe) for s, c in zip(sources, clips, strict=True)]
        segments = _interleave(segments, _one_use_each(audios))
    joined = ffmpeg.concat(*segments, v=1, a=int(has_audio)).node
    streams = [joined[0], joined[1]] if has_audio else [joined[0]]
    options: dict[str, Any] = {
        "c:v": VIDEO_ENCODER,
        "preset": recipe.video_preset,
        "crf": recipe.video_crf,
        "pix_fmt": "yuv420p",
        "movflags": "+faststart",
    }
    if has_audio:
        options.update(AUDIO_OPTIONS)
    return ffmpeg.output(*streams, _file_arg(output), **options)


def _input_names(clips: Sequence[ClipInfo]) -> list[str]:
    """One input per use of a clip, even when a clip is listed twice (a bumper).

    ffmpeg-python merges identical inputs, and sharing one decode between two
    uses would hold every raw frame of the clip in memory until its second
    use. So each repeat is spelled differently (``/a/./x.mp4``, ``/a/././x.mp4``):
    the same file, opened again.
    """
    seen: Counter[Path] = Counter()
    names = []
    for clip in clips:
        path = clip.path.absolute()
        names.append(f"{path.parent}/{'./' * seen[path]}{path.name}")
        seen[path] += 1
    return names


def _one_use_each(streams: list[Any]) -> list[Any]:
    """Give every use of a repeated audio stream its own copy.

    ffmpeg-python merges identical nodes, so two silent clips of one length
    share one silence input, which FFmpeg will not feed to the concat twice;
    ``asplit`` hands out copies (silence is cheap to hold).
    """
    counts = Counter(streams)
    copies = {
        stream: iter([stream.filter_multi_output("asplit")[i] for i in range(count)])
        for stream, count in counts.items()
        if count > 1
    }
    return [next(copies[stream]) if stream in copies else stream for stream in streams]


def _interleave(videos: list[Any], audios: list[Any]) -> list[Any]:
    """``[v0, a0, v1, a1, ...]``, the order the concat filter takes segments in."""
    return [stream for pair in zip(videos, audios, strict=True) for stream in pair]


def _normalised_video(source: Any, recipe: StitchRecipe) -> Any:
    """Fit inside the target keeping the aspect ratio, centre on black, fix rate."""
    return (
        source.video.filter(
            "scale", recipe.width, recipe.height, force_original_aspect_ratio="decrease"
        )
        .filter("pad", recipe.width, recipe.height, "(ow-iw)/2", "(oh-ih)/2")
        .filter("setsar", 1)
        .filter("fps", fps=str(recipe.fps))
        .filter("format", "yuv420p")
    )


def _normalised_audio(source: Any, clip: ClipInfo, recipe: StitchRecipe) -> Any:
    """The clip's sound (or silence) exactly as long as its picture."""
    seconds = f"{clip.video_duration:.6f}"
    if not clip.has_audio:
        silence = (
            f"anullsrc=channel_layout={recipe.channel_layout}:sample_rate={recipe.sample_rate}"
        )
        return ffmpeg.input(silence, f="lavfi", t=seconds).audio
    return (
        source.audio.filter(
            "aformat", sample_rates=recipe.sample_rate, channel_layouts=recipe.channel_layout
        )
        .filter("apad", whole_dur=seconds)
        .filter("atrim", duration=seconds)
    )


def _file_arg(path: Path) -> str:
    """An absolute path, so FFmpeg never reads ``a:b.mp4`` as protocol ``a:``."""
    return str(path.absolute())


def concat_list_text(clips: Sequence[ClipInfo]) -> str:
    """The concat demuxer's list: one ``file '...'`` line per clip, absolute paths.

    In that syntax a quote inside a quoted path is written ``'\\''`` (close the
    quote, an escaped quote, reopen), as in a POSIX shell.
    """
    lines = []
    for clip in clips:
        path = _file_arg(clip.path).replace("'", "'\\''")
        lines.append(f"file '{path}'\n")
    return "".join(lines)
