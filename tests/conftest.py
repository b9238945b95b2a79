"""Fixtures shared by the whole suite: tiny Manim scripts, an isolated cache, and
fake-gcs-server (tests/support/gcs_fake.py) for the integration and end-to-end tests."""

from __future__ import annotations

import itertools
import os
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chalkline.storage.gcs import EMULATOR_ENV, make_client
from tests.support.gcs_fake import running_fake_gcs
from tests.support.scenes import TINY_SCENES, TWO_SCENES


@pytest.fixture
def two_scenes() -> str:
    """The source of two scenes: One (3 frames at 15 fps) and Two (6 frames)."""
    return TWO_SCENES


@pytest.fixture
def write_script(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a Manim script (dedented) into the test's folder and return its path."""

    def write(source: str, name: str = "scenes.py") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    return write


@pytest.fixture
def tiny_script(write_script: Callable[[str, str], Path]) -> Path:
    """Three scenes of a fraction of a second each (frames at 15 fps: 3, 6, 3)."""
    return write_script(TINY_SCENES, "tiny.py")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own Manim cache and temp folder, so leaks are visible."""
    cache = tmp_path / "cache"
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("CHALKLINE_CACHE_DIR", str(cache))
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return cache


@pytest.fixture
def fake_gcs() -> Iterator[str]:
    """fake-gcs-server of this test's own; its URL.

    One server per test (it starts in about 60 ms): no process outlives the
    test, as tests/e2e's leftover-process check requires of every test.
    """
    with running_fake_gcs() as url:
        yield url


_buckets = itertools.count()


@pytest.fixture
def gcs_bucket(fake_gcs: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty bucket on the emulator, with STORAGE_EMULATOR_HOST set for the test.

    Everything the test runs talks to it: this process's clients, the
    operator, and the subprocesses the test starts (a CLI run, the Cloud Run
    fake's tasks), which inherit the variable.
    """
    monkeypatch.setenv(EMULATOR_ENV, fake_gcs)
    monkeypatch.delenv("CHALKLINE_CLOUDRUN_PROJECT", raising=False)
    name = f"chalkline-test-{os.getpid()}-{next(_buckets)}"
    make_client().create_bucket(name)
    return name
