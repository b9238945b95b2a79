"""Fixtures shared by the whole suite: tiny Manim scripts and an isolated cache."""

from __future__ import annotations

import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

TINY_SCENES = """
from manim import *

class Red(Scene):
    def construct(self):
        self.play(Create(Square(color=RED)), run_time=0.2)

class Green(Scene):
    def construct(self):
        self.play(FadeIn(Circle(color=GREEN)), run_time=0.4)

class Blue(Scene):
    def construct(self):
        self.add(Triangle(color=BLUE))
        self.wait(0.2)
"""


TWO_SCENES = """\
from manim import *
class One(Scene):
    def construct(self):
        self.play(Create(Square()), run_time=0.2)
class Two(Scene):
    def construct(self):
        self.play(FadeIn(Circle()), run_time=0.4)
"""


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
