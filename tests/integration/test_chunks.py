"""A scene rendered in chunks of animations and joined by stream copy is the scene itself.

The promise chunked rendering rests on (issue 10): split a scene whose
objects persist between animations into animation ranges (manim's
``-n START,END``), render each range as its own task, join the clips with the
stitcher's stream copy, and the video decodes to exactly the frames of the
whole scene rendered at once: every pixel of every frame equal, not only the
frame count. Each task is a separate ``chalkline worker`` process, as on a
remote backend.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from chalkline.stitcher.concat import stitch_clips

STATEFUL = """
from manim import *

class Stateful(Scene):
    def construct(self):
        square = Square(color=BLUE)
        self.play(Create(square), run_time=0.4)
        circle = Circle(color=GREEN).shift(RIGHT * 2)
        self.play(FadeIn(circle), run_time=0.4)
        self.play(square.animate.shift(LEFT * 2), run_time=0.4)
        self.wait(0.2)
        self.play(Transform(square, Triangle(color=RED)), run_time=0.4)
        self.play(circle.animate.scale(0.5), run_time=0.4)
"""
CHUNKS = [(0, 1), (2, 3), (4, 5)]
#: The same shape of scene, but a dot moves by the time that has passed: chunks
#: skip the frames before them, so the dot's position at a border is not the
#: whole scene's. This is why a dry pass must refuse to split such a scene.
DRIFTING = STATEFUL.replace(
    "        square = Square(color=BLUE)",
    "        dot = Dot().add_updater(lambda m, dt: m.shift(RIGHT * dt))\n"
    "        self.add(dot)\n"
    "        square = Square(color=BLUE)",
)


def run_worker(script: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``chalkline worker`` on scene Stateful of ``script``, a process of its own."""
    command = [sys.executable, "-m", "chalkline", "worker", "--script", str(script)]
    command += ["--scene", "Stateful", "--output-dir", str(out), "--no-cache", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def worker(script: Path, out: Path, *args: str) -> dict[str, object]:
    """The manifest of a worker run that succeeded."""
    result = run_worker(script, out, *args)
    assert result.returncode == 0, result.stderr
    manifest: dict[str, object] = json.loads(result.stdout)
    return manifest


def frames(video: Path) -> Iterator[np.ndarray]:
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


#: Dots placed at random: equal across chunks only when every chunk uses one seed.
RANDOM = STATEFUL.replace(
    "        square = Square(color=BLUE)",
    "        import random\n"
    "        spot = lambda: [random.uniform(-5, 5), random.uniform(-3, 3), 0]\n"
    "        self.add(*(Dot(spot()) for _ in range(5)))\n"
    "        square = Square(color=BLUE)",
)


def differing_frames(tmp_path: Path, source: str, *options: str) -> tuple[list[int], int]:
    """Render ``source``'s scene whole and in CHUNKS; the frames where they differ, and
    how many frames the whole scene has."""
    script = tmp_path / "stateful.py"
    script.write_text(source)
    (tmp_path / "whole").mkdir()
    (tmp_path / "chunks").mkdir()

    whole = worker(script, tmp_path / "whole", *options)
    parts = [
        worker(script, tmp_path / "chunks", "--animations", f"{start},{end}", *options)
        for start, end in CHUNKS
    ]
    joined = stitch_clips(
        [tmp_path / "chunks" / str(part["clip"]) for part in parts], tmp_path / "joined.mp4"
    )

    assert joined.recipe.mode == "copy"
    names = [str(part["clip"]) for part in parts]
    assert [name.split("-", 3)[-1] for name in names] == ["a0-1.mp4", "a2-3.mp4", "a4-5.mp4"]
    expected = list(frames(tmp_path / "whole" / str(whole["clip"])))
    actual = list(frames(tmp_path / "joined.mp4"))
    assert len(actual) == len(expected) == whole["frames"]
    assert sum(int(str(p["frames"])) for p in parts) == len(expected)
    pairs = enumerate(zip(actual, expected, strict=True))
    return [index for index, (a, b) in pairs if not np.array_equal(a, b)], len(expected)


@pytest.mark.render
def test_chunks_joined_by_stream_copy_are_the_whole_scene_pixel_for_pixel(tmp_path: Path) -> None:
    different, _ = differing_frames(tmp_path, STATEFUL)
    assert different == [], f"frames that differ from the whole scene: {different}"


@pytest.mark.render
def test_random_draws_match_across_chunks_under_one_seed(tmp_path: Path) -> None:
    different, _ = differing_frames(tmp_path, RANDOM, "--seed", "7")
    assert different == [], f"frames that differ from the whole scene: {different}"


@pytest.mark.render
def test_a_time_based_updater_drifts_across_chunk_borders(tmp_path: Path) -> None:
    different, total = differing_frames(tmp_path, DRIFTING)
    assert different, "the pixel comparison sees the drift"
    first_border = 6 + 6  # two 0.4 s animations at 15 fps: the second chunk's first frame
    assert min(different) >= first_border - 1 and max(different) < total


def test_an_animation_range_must_read_start_comma_end(tmp_path: Path) -> None:
    script = tmp_path / "stateful.py"
    script.write_text(STATEFUL)
    for bad in ("3", "5,2", "a,b", "-1,2"):
        result = run_worker(script, tmp_path, "--animations", bad)
        assert result.returncode == 1
        assert f"error: --animations '{bad}' is not START,END" in result.stderr
        assert list(tmp_path.glob("*.mp4")) == []
