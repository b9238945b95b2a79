"""Which FFmpeg binary to run.

Machines and images differ: a system FFmpeg is preferred when present (it is
usually newer and may have hardware encoders), otherwise the static binary that
the ``imageio-ffmpeg`` wheel ships is used, so a plain ``pip install`` is
enough to stitch. ``CHALKLINE_FFMPEG`` overrides both, for a pinned build.
"""

from __future__ import annotations

import functools
import os
import shutil

import imageio_ffmpeg

ENV_OVERRIDE = "CHALKLINE_FFMPEG"


@functools.cache
def ffmpeg_executable() -> str:
    """Path of the FFmpeg binary to run (looked up once per process)."""
    override = os.environ.get(ENV_OVERRIDE)
    if override:
        return override
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    return exe
