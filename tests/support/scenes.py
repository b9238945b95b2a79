"""Manim scripts that more than one test module renders.

- :data:`TINY_SCENES` and :data:`TWO_SCENES`: plain scenes of a fraction of a
  second (the ``tiny_script`` and ``two_scenes`` fixtures, tests/conftest.py);
- :data:`INSTRUMENTED`: scenes that report on themselves, for the end-to-end
  tests (the ``scenes`` fixture, tests/e2e/conftest.py, is a :class:`Scenes`).

The instrumented script carries test instrumentation, as a user's script may:
each scene appends "<Scene> start <pid>" and "<Scene> end <pid>" to a log file
from construct(). That log is how a test sees which scenes were rendered, how
often, and by which process, wherever the render ran (the local executor's
processes or the Cloud Run fake's tasks, all on this machine). The ``Held``
scene waits (up to 30 s) for a gate file before it plays, so a test can act
while a render is certainly in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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

INSTRUMENTED = """\
import os
import time
from pathlib import Path

from manim import BLUE, GREEN, RED, YELLOW, Circle, Create, FadeIn, Scene, Square, Triangle

LOG = Path(__LOG__)
GATE = Path(__GATE__)


def note(scene, event):
    with LOG.open("a") as log:
        log.write(f"{type(scene).__name__} {event} {os.getpid()}\\n")


class Opening(Scene):
    def construct(self):
        note(self, "start")
        self.play(Create(Square(color=RED)), run_time=0.2)
        note(self, "end")


class Proof(Scene):
    def construct(self):
        note(self, "start")
        self.play(FadeIn(Circle(color=GREEN)), run_time=0.4)
        note(self, "end")


class Closing(Scene):
    def construct(self):
        note(self, "start")
        self.play(Create(Triangle(color=YELLOW)), run_time=0.2)
        note(self, "end")


class Held(Scene):
    def construct(self):
        note(self, "start")
        deadline = time.monotonic() + 30
        while not GATE.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.play(Create(Square(color=BLUE)), run_time=0.2)
        note(self, "end")
"""

#: Frames of each instrumented scene's clip at low quality (15 fps).
FRAMES = {"Opening": 3, "Proof": 6, "Closing": 3, "Held": 3}


@dataclass(frozen=True)
class Scenes:
    """The instrumented script, its log and its gate."""

    log: Path
    gate: Path

    @property
    def script(self) -> str:
        return INSTRUMENTED.replace("__LOG__", repr(str(self.log))).replace(
            "__GATE__", repr(str(self.gate))
        )

    def open_gate(self) -> None:
        self.gate.touch()

    def pids(self, scene: str, event: str = "start") -> list[int]:
        """The processes in which ``scene`` logged ``event``, in order."""
        text = self.log.read_text() if self.log.exists() else ""
        lines = text.split("\n")[:-1]  # whole lines only: a scene may be writing one
        return [
            int(pid) for name, what, pid in map(str.split, lines) if (name, what) == (scene, event)
        ]

    def started(self, scene: str) -> int:
        return len(self.pids(scene, "start"))

    def finished(self, scene: str) -> int:
        return len(self.pids(scene, "end"))
