"""Progress for long runs: a live table in a terminal, plain lines elsewhere.

Logs in CI and ``kubectl logs`` need one line per change; a person at a
terminal wants one row per scene that updates in place. Both displays consume
the same events from the pipeline.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from chalkline.core.records import ClipManifest
from chalkline.stitcher.concat import StitchReport
from chalkline.worker.pool import TaskEvent


class SceneTask(Protocol):
    """What a display needs of a task (a :class:`RenderTask` is one)."""

    @property
    def index(self) -> int: ...

    @property
    def scene(self) -> str: ...


@dataclass(frozen=True)
class RemoteScene:
    """A task that runs elsewhere (Cloud Run), known only by index and scene."""

    index: int
    scene: str


def human_bytes(size: float) -> str:
    """``1536`` -> ``1.5 KB``: sizes as people read them."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def describe_clip(manifest: ClipManifest) -> str:
    if not manifest.has_clip:
        return "no animations, nothing to stitch"
    return (
        f"{manifest.frames} frames ({manifest.duration:.1f} s), "
        f"{human_bytes(manifest.size_bytes)}, rendered in {manifest.render_seconds:.1f} s"
    )


def stitch_summary(report: StitchReport, seconds: float) -> str:
    """The closing lines of a render or stitch: which mode, why, and what was written."""
    return (
        f"stitch mode: {report.recipe.mode}, because {report.recipe.reason}\n"
        f"wrote {report.output} ({report.output_duration:.1f} s, "
        f"{human_bytes(report.output_size_bytes)}) in {seconds:.1f} s"
    )


class LineDisplay:
    """One line per event, for logs and pipes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.total = 0
        self.done = 0
        self.last_stitch_step = -1

    def __enter__(self) -> LineDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.flush()

    def show_tasks(self, tasks: Sequence[SceneTask]) -> None:
        self.total = len(tasks)
        scenes = ", ".join(t.scene for t in tasks)
        self._say(f"rendering {self.total} scene(s): {scenes}")

    def task(self, event: TaskEvent) -> None:
        if event.kind == "progress":
            return
        if event.kind == "done" and event.manifest is not None:
            self.done += 1
            detail = describe_clip(event.manifest)
            self._say(f"[{self.done}/{self.total}] {event.scene}: done ({detail})")
        elif event.kind == "failed":
            self._say(f"[{event.index + 1}/{self.total}] {event.scene}: failed")
        else:
            self._say(f"[{event.index + 1}/{self.total}] {event.scene}: {event.kind}")

    def stitch_start(self, clips: int) -> None:
        self._say(f"stitching {clips} clip(s)")

    def stitch_progress(self, fraction: float) -> None:
        step = int(fraction * 4)  # a line at each quarter is enough for a log
        if step > self.last_stitch_step:
            self.last_stitch_step = step
            self._say(f"stitch: {fraction:.0%}")

    def _say(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


class LiveDisplay:
    """A row per scene that updates in place, then a stitch bar (rich)."""

    def __init__(self, console: Console | None = None) -> None:
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description:<24}"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console or Console(),
            transient=False,
        )
        self.rows: dict[int, TaskID] = {}
        self.started: dict[int, float] = {}
        self.stitch_row: TaskID | None = None

    def __enter__(self) -> LiveDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def show_tasks(self, tasks: Sequence[SceneTask]) -> None:
        for task in tasks:
            self.rows[task.index] = self.progress.add_task(
                task.scene, total=None, start=False, status="queued"
            )

    def task(self, event: TaskEvent) -> None:
        row = self.rows[event.index]
        if event.kind == "started":
            self.started[event.index] = time.monotonic()
            self.progress.start_task(row)
            self.progress.update(row, status="rendering")
        elif event.kind == "progress":
            self.progress.update(row, status=f"{event.plays} animation(s)")
        elif event.kind == "done" and event.manifest is not None:
            self.progress.update(row, total=1, completed=1, status=describe_clip(event.manifest))
            self.progress.stop_task(row)
        else:
            self.progress.update(row, status=f"[red]{event.kind}")
            self.progress.stop_task(row)

    def stitch_start(self, clips: int) -> None:
        self.stitch_row = self.progress.add_task(f"stitch {clips} clip(s)", total=1.0, status="")

    def stitch_progress(self, fraction: float) -> None:
        if self.stitch_row is not None:
            self.progress.update(self.stitch_row, completed=fraction, status=f"{fraction:.0%}")


Display = LineDisplay | LiveDisplay


def make_display(live: bool | None = None) -> Display:
    """A live display when stdout is a terminal (or ``live`` says so), lines otherwise."""
    if live is None:
        live = sys.stdout.isatty()
    return LiveDisplay() if live else LineDisplay()
