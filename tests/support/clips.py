"""Test-pattern clips made by FFmpeg itself, for tests and benchmarks (bench/).

Real reels cannot ship with the repository, and tests need clips of exact
shapes (size, rate, audio or not) made in milliseconds. FFmpeg's ``lavfi``
sources draw a moving test pattern (``testsrc2``) and a tone (``sine``), so a
clip differs only in the facts under test.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from chalkline.stitcher.ffmpeg_exe import ffmpeg_executable

#: The ``make_clip`` fixture (tests/integration/conftest.py): keyword arguments -> a clip.
MakeClip = Callable[..., Path]

#: Encoders that understand x264-style ``-preset``.
_PRESET_ENCODERS = ("libx264", "libx265")


def make_test_clip(
    path: Path,
    *,
    width: int,
    height: int,
    fps: int | Fraction,
    seconds: float,
    audio: bool,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    tone_hz: int = 440,
    sample_rate: int = 48000,
    channels: int = 2,
) -> Path:
    """Write a ``seconds``-long test-pattern clip to ``path`` and return it.

    With ``audio`` the clip carries an AAC tone of ``tone_hz`` exactly as long
    as the video, the way a phone records a reel.
    """
    video = ffmpeg.input(
        f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}", f="lavfi"
    ).video
    streams: list[Any] = [video]
    options: dict[str, Any] = {"vcodec": codec, "pix_fmt": pix_fmt, "movflags": "+faststart"}
    if codec in _PRESET_ENCODERS:
        options["preset"] = "ultrafast"
    if audio:
        tone = f"sine=frequency={tone_hz}:sample_rate={sample_rate}:duration={seconds}"
        streams.append(ffmpeg.input(tone, f="lavfi").audio)
        options.update(acodec="aac", ac=channels)
    args = (
        ffmpeg.output(*streams, str(path), **options)
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
        .overwrite_output()
        .get_args()
    )
    _run(args)
    return path


def _run(args: list[str]) -> None:
    """Run FFmpeg; a failure here is a broken test setup, so show FFmpeg's words."""
    done = subprocess.run([ffmpeg_executable(), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed:\n{done.stderr[-2000:]}")
