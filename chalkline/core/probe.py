"""What a clip is made of, read from its container headers with PyAV.

The stitch plan depends only on these facts (codec, size, rate, pixel format,
audio layout, durations), so probing must be cheap: headers only, no decoding.
PyAV reads them in well under 0.1 s, and it is already installed with Manim,
whereas the ``imageio-ffmpeg`` wheel ships no ``ffprobe``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import av

from chalkline.core.errors import InvalidClip, SourceNotFound

#: FFmpeg's internal time base: container durations are in microseconds.
_AV_TIME_BASE = 1_000_000


@dataclass(frozen=True)
class ClipInfo:
    """Facts about one clip that decide how it can be stitched.

    ``path`` is the file FFmpeg reads when stitching here. A clip probed from a
    stream (a gs:// object) has no local file: its ``path`` is only the
    object's file name, for messages.
    """

    path: Path
    size_bytes: int
    duration: float
    video_codec: str
    width: int
    height: int
    fps: Fraction
    pix_fmt: str
    frames: int
    has_audio: bool
    audio_codec: str | None
    sample_rate: int | None
    channels: int | None
    channel_layout: str | None
    audio_duration: float | None
    video_duration: float

    @property
    def resolution(self) -> str:
        """``"WxH"``, the way users write sizes on the command line."""
        return f"{self.width}x{self.height}"

    def as_dict(self) -> dict[str, Any]:
        """The facts as JSON-ready values (paths and rates as strings)."""
        return {
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "duration": self.duration,
            "video_codec": self.video_codec,
            "resolution": self.resolution,
            "width": self.width,
            "height": self.height,
            "fps": str(self.fps),
            "pix_fmt": self.pix_fmt,
            "frames": self.frames,
            "video_duration": self.video_duration,
            "has_audio": self.has_audio,
            "audio_codec": self.audio_codec,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "channel_layout": self.channel_layout,
            "audio_duration": self.audio_duration,
        }


def probe_clip(path: Path) -> ClipInfo:
    """Read ``path``'s streams; raise a user error when it is not a usable video."""
    _check_readable_file(path)
    return _probe(str(path), _Clip(str(path), path, path.stat().st_size))


def probe_stream(stream: BinaryIO, uri: str) -> ClipInfo:
    """Read the streams of a clip open as a seekable binary ``stream``, named ``uri`` in errors.

    For clips that are not on this machine (gs:// objects): FFmpeg seeks to
    and reads only the container headers, so a remote stream fetches a few
    ranges instead of the whole clip. The size is where the stream ends.
    """
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    return _probe(stream, _Clip(uri, Path(PurePosixPath(uri).name), size))


@dataclass(frozen=True)
class _Clip:
    """What a probe knows of a clip besides its streams: its name in messages, path and size."""

    label: str
    path: Path
    size_bytes: int


def _probe(source: str | BinaryIO, clip: _Clip) -> ClipInfo:
    """Open ``source`` (a path or a stream) with PyAV and read the clip's facts."""
    try:
        container = av.open(source)
    except av.error.FFmpegError as err:
        raise InvalidClip(
            f"clip {clip.label} is not a video: FFmpeg cannot read it ({err.strerror})",
            hint="pass video files such as .mp4 or .mov",
        ) from err
    with container:
        return _clip_info(clip, container)


def _check_readable_file(path: Path) -> None:
    """Turn the usual path mistakes into messages that name the path."""
    if not path.exists():
        raise SourceNotFound(f"clip not found: {path}", hint="check the path and the spelling")
    if not path.is_file():
        raise InvalidClip(f"clip {path} is not a file (a folder?)")
    try:
        with path.open("rb"):
            pass
    except OSError as err:
        raise SourceNotFound(f"clip {path} cannot be read: {err.strerror}") from err


def _clip_info(clip: _Clip, container: Any) -> ClipInfo:
    """Combine the first video stream and the first audio stream, if any."""
    if not container.streams.video:
        found = ", ".join(s.type for s in container.streams) or "no streams at all"
        raise InvalidClip(
            f"clip {clip.label} is not a video: it has no video stream (found {found})",
            hint="stitch inputs must be videos; mux audio-only files onto a video first",
        )
    video = container.streams.video[0]
    audio = container.streams.audio[0] if container.streams.audio else None
    fps = _frame_rate(clip.label, video)
    video_duration = _video_duration(clip.label, video, fps)
    audio_duration = _stream_seconds(audio) if audio is not None else None
    vcc = video.codec_context
    acc = audio.codec_context if audio is not None else None
    return ClipInfo(
        path=clip.path,
        size_bytes=clip.size_bytes,
        duration=_container_seconds(container, video_duration, audio_duration),
        video_codec=vcc.name,
        width=vcc.width,
        height=vcc.height,
        fps=fps,
        pix_fmt=vcc.pix_fmt or "unknown",
        frames=video.frames or round(video_duration * fps),
        has_audio=audio is not None,
        audio_codec=acc.name if acc is not None else None,
        sample_rate=acc.sample_rate if acc is not None else None,
        channels=acc.channels if acc is not None else None,
        channel_layout=acc.layout.name if acc is not None else None,
        audio_duration=audio_duration,
        video_duration=video_duration,
    )


def _frame_rate(label: str, video: Any) -> Fraction:
    """The stream's nominal rate when the average agrees with it, else the average.

    Manim's clips average 15.003 fps (the last frame's duration is rounded)
    while being 15 fps clips; variable-rate clips have only an average.
    """
    nominal = video.base_rate or video.guessed_rate
    average = video.average_rate
    if nominal and average and abs(nominal - average) <= nominal * Fraction(1, 100):
        return Fraction(nominal)
    rate = average or nominal
    if not rate:
        raise InvalidClip(f"clip {label} is not a video: its video stream has no frame rate")
    return Fraction(rate)


def _video_duration(label: str, video: Any, fps: Fraction) -> float:
    """Length of the video stream; a still image (no duration) is refused."""
    seconds = _stream_seconds(video)
    if seconds is None and video.frames:
        seconds = float(video.frames / fps)
    if not seconds:
        raise InvalidClip(
            f"clip {label} is not a video: its video stream has no duration (a still image?)",
            hint="turn a still into a clip first, e.g. with ffmpeg -loop 1 -t 3",
        )
    return seconds


def _stream_seconds(stream: Any) -> float | None:
    """A stream's own duration in seconds, when its header records one."""
    if stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def _container_seconds(
    container: Any, video_duration: float, audio_duration: float | None
) -> float:
    """The container's duration, else the longest stream's."""
    if container.duration is not None:
        return float(container.duration) / _AV_TIME_BASE
    return max(video_duration, audio_duration or 0.0)
