"""The dry pass runs a scene without drawing it: run times, skip cost, unsafe borders.

Each dry pass runs in a process of its own (``sys.executable -c``), as the
worker runs it, so Manim's global config and the script's module never leak
from one test into another. The process prints the analysis as JSON on its
last line, or the error it raised.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from chalkline.worker.dry_pass import SceneAnalysis

DRY_PASS = """\
import json, sys
from pathlib import Path
from chalkline.core.errors import ChalklineError
from chalkline.worker.dry_pass import analyze_scene

script, scene, seed, media = sys.argv[1:5]
try:
    analysis = analyze_scene(
        Path(script), scene, "low",
        seed=int(seed) if seed else None, media_dir=Path(media) if media else None,
    )
except ChalklineError as err:
    print(json.dumps({"error": type(err).__name__, "message": str(err)}))
else:
    print(json.dumps({"analysis": analysis.to_dict()}))
"""

STATEFUL = """
from manim import *

class Stateful(Scene):
    def construct(self):
        square = Square(color=BLUE)
        self.play(Create(square), run_time=0.5)
        self.play(square.animate.shift(LEFT), run_time=1.0)
        self.wait(0.25)
"""

#: A dot driven by the time that passes, from the second animation on.
DRIFTING = """
from manim import *

class Drifting(Scene):
    def construct(self):
        self.play(Create(Square()), run_time=0.2)
        dot = Dot()
        dot.add_updater(lambda mob, dt: mob.shift(RIGHT * dt))
        self.add(dot)
        self.play(FadeIn(Circle()), run_time=0.2)
        self.wait(0.2)
"""

SOUND = """
from manim import *

class Sounding(Scene):
    def construct(self):
        self.play(Create(Square()), run_time=0.2)
        self.add_sound("click.wav")
        self.play(FadeIn(Circle()), run_time=0.2)
"""

FAILING = """
from manim import *

class Failing(Scene):
    def construct(self):
        self.play(Create(Square()), run_time=0.2)
        raise ValueError("the circle is missing")
"""

#: Draws from both global generators after a first animation, and says what it drew.
SCATTER = """
import random
import numpy as np
from manim import *

class Scatter(Scene):
    def construct(self):
        self.play(Create(Square()), run_time=0.2)
        x, y = random.random(), float(np.random.random())
        print(f"DRAW {x!r} {y!r}", flush=True)
        self.play(FadeIn(Dot([x, y, 0])), run_time=0.2)
"""

#: A dot that jumps to a random place on every frame.
JITTER = """
import numpy as np
from manim import *

class Jitter(Scene):
    def construct(self):
        dot = Dot().add_updater(lambda mob: mob.move_to([np.random.random(), 0, 0]))
        self.add(dot)
        self.play(Create(Square()), run_time=0.2)
        self.play(FadeIn(Circle()), run_time=0.2)
"""

#: Updaters without dt, called once per frame when rendering and once per
#: animation when skipping: harmless if a second call changes nothing.
UPDATERS = """
from manim import *

class Updaters(Scene):
    def construct(self):
        square = Square()
        self.add(__MOBJECT__)
        self.play(square.animate.shift(LEFT), run_time=0.2)
        self.play(square.animate.shift(UP), run_time=0.2)
"""

#: A dot placed by the scene's clock.
CLOCK = """
from manim import *

class Clock(Scene):
    def construct(self):
        self.add(always_redraw(lambda: Dot().move_to([self.time, 0, 0])))
        self.play(Create(Square()), run_time=__RUN_TIME__)
        self.play(FadeIn(Circle()), run_time=__RUN_TIME__)
"""


def write(folder: Path, source: str, name: str = "scene.py") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def dry_pass(
    script: Path, scene: str, *, seed: int | None = None, media_dir: Path | None = None
) -> tuple[dict[str, Any], str]:
    """Run the dry pass in a fresh process (in the script's folder): its result and stdout."""
    args = [str(script), scene, "" if seed is None else str(seed), str(media_dir or "")]
    result = subprocess.run(
        [sys.executable, "-c", DRY_PASS, *args],
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcome: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return outcome, result.stdout


def analyze(script: Path, scene: str, **kwargs: Any) -> SceneAnalysis:
    outcome, _ = dry_pass(script, scene, **kwargs)
    assert "analysis" in outcome, outcome
    return SceneAnalysis.from_dict(outcome["analysis"])


def draws(stdout: str) -> list[str]:
    return re.findall(r"^DRAW (.*)$", stdout, flags=re.MULTILINE)


@pytest.mark.render
def test_a_stateful_scene_has_its_run_times_and_is_splittable(tmp_path: Path) -> None:
    analysis = analyze(write(tmp_path, STATEFUL), "Stateful")

    assert analysis.animations == 3
    assert analysis.run_times == (0.5, 1.0, 0.25)
    # 0.5 s at 15 fps draws ceil(7.5) frames; a frozen wait floor(3.75).
    assert analysis.frames == (8, 15, 3)
    assert analysis.unsafe == ()
    assert analysis.splittable
    assert 0 < analysis.skip_seconds < 10
    assert (analysis.scene, analysis.quality, analysis.seed) == ("Stateful", "low", None)
    assert SceneAnalysis.from_dict(json.loads(json.dumps(analysis.to_dict()))) == analysis


@pytest.mark.render
def test_the_frames_are_those_the_worker_renders(tmp_path: Path) -> None:
    script = write(tmp_path, STATEFUL)
    analysis = analyze(script, "Stateful")
    (tmp_path / "out").mkdir()
    command = [sys.executable, "-m", "chalkline", "worker", "--script", str(script)]
    command += ["--scene", "Stateful", "--output-dir", str(tmp_path / "out"), "--no-cache"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["frames"] == sum(analysis.frames)


@pytest.mark.render
def test_the_dry_pass_writes_no_media(tmp_path: Path) -> None:
    script = write(tmp_path, STATEFUL)
    media = tmp_path / "media"
    analyze(script, "Stateful", media_dir=media)
    analyze(script, "Stateful")  # in a temporary media folder of its own

    written = [p for p in tmp_path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert written == [script]
    assert not media.exists() or list(media.iterdir()) == []


@pytest.mark.render
def test_a_time_based_updater_makes_the_scene_unsplittable(tmp_path: Path) -> None:
    analysis = analyze(write(tmp_path, DRIFTING), "Drifting")

    assert analysis.animations == 3
    assert analysis.run_times == (0.2, 0.2, 0.2)
    [reason] = analysis.unsafe
    # It names where the updater is first active (animation 1) and which updater it is.
    assert reason.startswith("animation 1: Dot has a time-based updater ")
    assert "Drifting.construct.<locals>.<lambda>" in reason
    assert not analysis.splittable


@pytest.mark.render
def test_a_sound_makes_the_scene_unsplittable(tmp_path: Path) -> None:
    analysis = analyze(write(tmp_path, SOUND), "Sounding")

    assert analysis.animations == 2
    [reason] = analysis.unsafe
    assert reason.startswith("animation 1: the scene adds a sound (click.wav)")
    assert not analysis.splittable


@pytest.mark.render
def test_a_script_that_raises_fails_naming_the_scene(tmp_path: Path) -> None:
    outcome, _ = dry_pass(write(tmp_path, FAILING), "Failing")

    assert outcome["error"] == "RenderFailed"
    message = outcome["message"]
    assert "scene 'Failing' failed" in message
    assert "ValueError: the circle is missing" in message
    assert 'raise ValueError("the circle is missing")' in message  # the traceback's tail


@pytest.mark.render
def test_a_missing_scene_is_named(tmp_path: Path) -> None:
    outcome, _ = dry_pass(write(tmp_path, STATEFUL), "Nowhere")
    assert outcome["error"] == "SceneNotFound"
    assert "'Nowhere'" in outcome["message"]


@pytest.mark.render
def test_random_draws_repeat_only_with_a_seed(tmp_path: Path) -> None:
    """Manim seeds random and numpy.random from config.seed before construct();
    the seed is None unless given, so each process draws its own numbers."""
    script = write(tmp_path, SCATTER)

    unseeded = [dry_pass(script, "Scatter") for _ in range(2)]
    first, second = (draws(stdout) for _, stdout in unseeded)
    assert len(first) == len(second) == 1 and first != second
    analysis = SceneAnalysis.from_dict(unseeded[0][0]["analysis"])
    [reason] = analysis.unsafe
    assert reason.startswith("animation 1: the scene draws random numbers")
    assert "no seed" in reason
    assert not analysis.splittable

    seeded = [dry_pass(script, "Scatter", seed=7) for _ in range(2)]
    first, second = (draws(stdout) for _, stdout in seeded)
    assert len(first) == 1 and first == second
    analysis = SceneAnalysis.from_dict(seeded[0][0]["analysis"])
    assert analysis.unsafe == () and analysis.splittable and analysis.seed == 7

    # Manim's own render with that seed, whole and as a chunk that skips the
    # first animation, draws the same numbers as the dry pass did.
    for extra in ([], ["-n", "1,1"]):
        command = [sys.executable, "-m", "manim", "render", "-ql", "--seed", "7"]
        command += ["--media_dir", str(tmp_path / "media"), "--progress_bar", "none"]
        command += ["-v", "WARNING", *extra, str(script), "Scatter"]
        result = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr
        assert draws(result.stdout) == first


@pytest.mark.render
def test_random_draws_on_every_frame_are_unsafe_even_with_a_seed(tmp_path: Path) -> None:
    analysis = analyze(write(tmp_path, JITTER), "Jitter", seed=7)

    reasons = "\n".join(analysis.unsafe)
    assert "random numbers are drawn while its frames are computed" in reasons
    assert "changes its mobject again on every call" in reasons
    assert all(r.startswith("animation 0: ") for r in analysis.unsafe)
    assert not analysis.splittable


@pytest.mark.render
@pytest.mark.parametrize(
    ("mobject", "splittable"),
    [
        ("Circle().add_updater(lambda mob: mob.next_to(square, RIGHT))", True),
        ("always_redraw(lambda: Dot().next_to(square, DOWN))", True),
        ("Triangle().add_updater(lambda mob: mob.rotate(0.1))", False),
    ],
    ids=["next_to", "always_redraw", "rotate"],
)
def test_an_updater_without_dt_is_unsafe_only_when_each_call_changes_more(
    tmp_path: Path, mobject: str, splittable: bool
) -> None:
    analysis = analyze(write(tmp_path, UPDATERS.replace("__MOBJECT__", mobject)), "Updaters")

    assert analysis.animations == 2
    assert analysis.splittable is splittable
    if not splittable:
        [reason] = analysis.unsafe
        assert reason.startswith("animation 0: Triangle's updater ")
        assert "changes its mobject again on every call" in reason


@pytest.mark.render
@pytest.mark.parametrize(("run_time", "splittable"), [(0.4, True), (0.5, False)])
def test_reading_the_clock_is_unsafe_when_a_run_time_is_not_whole_frames(
    tmp_path: Path, run_time: float, splittable: bool
) -> None:
    """A skipped animation moves the clock by its run time, a rendered one by its
    frames: 0.4 s at 15 fps is 6 frames exactly, 0.5 s is 8 frames (0.533 s)."""
    source = CLOCK.replace("__RUN_TIME__", str(run_time))
    analysis = analyze(write(tmp_path, source), "Clock")

    assert analysis.splittable is splittable
    if not splittable:
        [reason] = analysis.unsafe
        assert reason.startswith("animation 0: the scene reads self.time")
        assert "draws 8 frames" in reason


def test_an_analysis_reads_back_what_it_wrote_and_refuses_other_json() -> None:
    analysis = SceneAnalysis(
        scene="S",
        quality="low",
        animations=2,
        run_times=(0.5, 1.0),
        frames=(8, 15),
        skip_seconds=0.01,
        unsafe=("animation 1: why",),
        seed=3,
    )
    assert SceneAnalysis.from_dict(json.loads(json.dumps(analysis.to_dict()))) == analysis
    assert not analysis.splittable
    one = SceneAnalysis("S", "low", 1, (0.5,), (8,), 0.01)
    assert not one.splittable
    with pytest.raises(ValueError, match="not a scene analysis"):
        SceneAnalysis.from_dict({"scene": "S"})
    with pytest.raises(ValueError, match="2 animations but 1 run times"):
        SceneAnalysis.from_dict({**analysis.to_dict(), "run_times": [0.5]})
