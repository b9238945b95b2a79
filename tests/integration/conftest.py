"""Fixtures for integration tests: small real clips made by FFmpeg, and a GCS emulator
(fake-gcs-server, see tests/gcs_fake)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from chalkline.stitcher.synthetic import make_test_clip
from chalkline.storage.gcs import EMULATOR_ENV, make_client

if TYPE_CHECKING:
    from tests.gcs_fake import running_fake_gcs
else:
    from gcs_fake import running_fake_gcs


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


@pytest.fixture(scope="session")
def fake_gcs() -> Iterator[str]:
    """fake-gcs-server for the session; its URL."""
    with running_fake_gcs() as url:
        yield url


_buckets = itertools.count()


@pytest.fixture
def gcs_bucket(fake_gcs: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty bucket on the emulator, with STORAGE_EMULATOR_HOST set for the test.

    Subprocesses the test starts inherit the variable, so a CLI run talks to
    the emulator too.
    """
    monkeypatch.setenv(EMULATOR_ENV, fake_gcs)
    monkeypatch.delenv("CHALKLINE_CLOUDRUN_PROJECT", raising=False)
    name = f"chalkline-test-{os.getpid()}-{next(_buckets)}"
    make_client().create_bucket(name)
    return name
