"""Fixtures for integration tests: small real clips made by FFmpeg."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from chalkline.stitcher.synthetic import make_test_clip

MakeClip = Callable[..., Path]


@pytest.fixture(scope="session")
def make_clip(tmp_path_factory: pytest.TempPathFactory) -> MakeClip:
    """Return ``make(width=, height=, fps=, seconds=, audio=)`` -> a test clip.

    Clips are cached for the session by their shape, so tests that need the
    same kind of clip share one file. Tests must not modify the clips.
    """
    folder = tmp_path_factory.mktemp("clips")
    made: dict[tuple[object, ...], Path] = {}

    def make(
        *,
        width: int = 160,
        height: int = 90,
        fps: int = 15,
        seconds: float = 1.0,
        audio: bool = True,
    ) -> Path:
        key = (width, height, fps, seconds, audio)
        if key not in made:
            name = f"{width}x{height}_{fps}fps_{seconds}s_{'audio' if audio else 'silent'}.mp4"
            made[key] = make_test_clip(
                folder / name, width=width, height=height, fps=fps, seconds=seconds, audio=audio
            )
        return made[key]

    return make
