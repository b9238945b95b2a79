"""The reconciler, as tables: (spec, status, what was observed) -> (status, actions).

Each row is one transition a RenderJob goes through. It reads: given this
spec and this status, when the executor and storage report this, the job is in
this phase, with this Succeeded condition, progress and task states, and the
operator does these things. The tests after the tables pin the details a user
or the controller relies on: keys, URIs, the stitch's size, timestamps.

Statuses of later phases come from the reconciler's own earlier passes,
recorded the way the controller records them (the handle a launch returned goes
into ``status.execution``), so every row starts from a status the operator
really writes.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalkline.core.errors import ChalklineError, InvalidClip, InvalidSpec, SourceNotFound
from chalkline.core.layout import JobRef, Layout, script_hash
from chalkline.core.records import ClipManifest
from chalkline.core.spec import RenderJobSpec, parse_spec
from chalkline.executors.base import ExecutionPhase, ExecutionReport, TaskPhase, TaskReport, Usage
from chalkline.operator.actions import (
    Action,
    Cancel,
    Emit,
    LaunchRender,
    LaunchStitch,
    SignVideoUrl,
    StageScript,
)
from chalkline.operator.reconciler import (
    ClipStats,
    Decision,
    Observed,
    Settings,
    Status,
    reconcile,
)
from chalkline.operator.status import RenderJobStatus
from chalkline.stitcher.tier_table import load_tier_table
from chalkline.stitcher.tiers import Prices

# --- builders ---------------------------------------------------------------

ROOT = "file:///var/lib/chalkline"
SETTINGS = Settings(storage_root=ROOT)
LAYOUT = Layout(ROOT)
JOB = JobRef(namespace="videos", name="intro", uid="uid-1", generation=1)
NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)

SCRIPT = """\
from manim import *

class Title(Scene):
    def construct(self):
        self.play(Write(Text("chalkline")))

class Outro(Scene):
    def construct(self):
        self.play(FadeOut(Square()))
"""
SCENES = ("Title", "Outro")


def spec(script: str = SCRIPT, **fields: Any) -> dict[str, Any]:
    """A render job with an inline script; ``fields`` are further spec fields."""
    return {"source": {"inline": script}, **fields}


def stitch_only(clips: int = 2, **fields: Any) -> dict[str, Any]:
    return {"clips": [f"file:///clips/part-{i}.mp4" for i in range(clips)], **fields}


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def clip_uri(scene: str) -> str:
    return LAYOUT.clip(JOB, scene, "low", script_hash(SCRIPT))


def manifest(scene: str, *, has_clip: bool = True) -> ClipManifest:
    """What a worker stores beside the clip of ``scene`` (480p, 2 s, no audio)."""
    return ClipManifest(
        index=SCENES.index(scene),
        scene=scene,
        clip=f"{scene}-low.mp4" if has_clip else "",
        frames=30,
        duration=2.0,
        size_bytes=300_000,
        width=854,
        height=480,
        fps=15.0,
        has_audio=False,
        render_seconds=3.0,
        manim_version="0.19.0",
        quality="low",
    )


def stored(*scenes: str) -> dict[str, ClipManifest]:
    """Storage holding the low-quality clips (and manifests) of ``scenes`` of SCRIPT."""
    return {clip_uri(s): manifest(s) for s in scenes}


def clip_stats(
    count: int, *, width: int = 1080, height: int = 1920, mb: int = 5
) -> tuple[ClipStats, ...]:
    """What the controller probes from ``count`` identical clips of 8 s (portrait reels)."""
    return tuple(
        ClipStats(f"file:///clips/part-{i}.mp4", mb * 1_000_000, width, height, 8.0, 30.0, True)
        for i in range(count)
    )


def task(index: int, phase: TaskPhase, message: str = "", seconds: float = 4.0) -> TaskReport:
    return TaskReport(index, phase, seconds, message)


def report(
    handle: str, phase: ExecutionPhase, *tasks: TaskReport, **fields: Any
) -> ExecutionReport:
    return ExecutionReport(handle, phase, tasks, **fields)


def parsed(job_spec: dict[str, Any]) -> RenderJobSpec | InvalidSpec:
    """The spec as the controller hands it over: parsed, or the error that says why not."""
    try:
        return parse_spec(job_spec)
    except InvalidSpec as err:
        return err


def observe(
    job_spec: dict[str, Any],
    status: Status | None = None,
    *,
    generation: int = 1,
    now: datetime = NOW,
    source_error: ChalklineError | None = None,
    **seen: Any,
) -> Observed:
    """What the controller observes; it reads the script only for a new generation.

    Rows give the spec and the status as Kubernetes holds them, dicts; the
    controller reads them into typed views once, and so does this.
    """
    status = status or {}
    new = status.get("observedGeneration") != generation
    inline = (job_spec.get("source") or {}).get("inline")
    return Observed(
        job=replace(JOB, generation=generation),
        spec=parsed(job_spec),
        status=RenderJobStatus.from_dict(status),
        now=now,
        script=inline if new and source_error is None else None,
        source_error=source_error,
        **seen,
    )


def step(observed: Observed) -> Decision:
    return reconcile(observed, SETTINGS)


def recorded(decision: Decision, render: str = "render-1", stitch: str = "stitch-1") -> Status:
    """The status the controller writes after applying ``decision`` (handles recorded)."""
    status = copy.deepcopy(decision.status)
    for action in decision.actions:
        if isinstance(action, LaunchRender):
            status["execution"]["render"] = render
        elif isinstance(action, LaunchStitch):
            status["execution"]["stitch"] = stitch
    return status


def rendering(job_spec: dict[str, Any] | None = None) -> Status:
    """A job whose render ``render-1`` was launched and recorded at NOW."""
    return recorded(step(observe(job_spec or spec())))


def stitching(job_spec: dict[str, Any] | None = None) -> Status:
    """A job whose scenes all rendered and whose stitch ``stitch-1`` was launched."""
    job_spec = job_spec or spec()
    done = report("render-1", "Succeeded", task(0, "Succeeded"), task(1, "Succeeded"))
    observed = observe(job_spec, rendering(job_spec), render=done, stored=stored(*SCENES))
    return recorded(step(observed))


def summary(action: Action) -> str:
    """One action as a short line, so tables can list the expected actions."""
    if isinstance(action, Emit):
        return f"Emit {action.type} {action.reason}"
    if isinstance(action, LaunchRender):
        return f"LaunchRender {[w.scene for w in action.work]}"
    if isinstance(action, LaunchStitch):
        return f"LaunchStitch {len(action.work.clip_uris)} clip(s)"
    if isinstance(action, Cancel):
        return f"Cancel {action.handle}"
    if isinstance(action, SignVideoUrl):
        return f"SignVideoUrl {action.seconds} s"
    assert isinstance(action, StageScript)
    return "StageScript"


def summaries(decision: Decision) -> list[str]:
    return [summary(a) for a in decision.actions]


def only(decision: Decision, kind: type[Action]) -> Any:
    """The single action of ``kind`` in ``decision``."""
    found = [a for a in decision.actions if isinstance(a, kind)]
    assert len(found) == 1, f"expected one {kind.__name__}, got {summaries(decision)}"
    return found[0]


def succeeded_condition(status: Status) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        c for c in status.get("conditions", []) if c["type"] == "Succeeded"
    ]
    assert len(found) == 1, status.get("conditions")
    return found[0]


def task_states(status: Status) -> list[str]:
    return [t["state"] for t in status.get("tasks") or []]


def emitted(decision: Decision, reason: str) -> str:
    """The message of the Event with ``reason``."""
    return str(
        next(a.message for a in decision.actions if isinstance(a, Emit) and a.reason == reason)
    )


BOTH = list(SCENES)
BROKEN = "from manim import *\n\nclass Broken(Scene)\n    pass\n"
NO_SCENES = "from manim import *\n\nclass Helper:\n    pass\n"
CONFIG_MAP = {"source": {"configMapKeyRef": {"name": "scripts", "key": "intro.py"}}}
RETRIES_2 = spec(retries=2)
TIMEOUT_60 = spec(timeoutSeconds=60)
TRACEBACK = "scene 'Outro': ZeroDivisionError: division by zero"


@dataclass(frozen=True)
class Row:
    """Expected outcome of one pass: phase, Succeeded condition, progress, tasks, actions."""

    observed: Observed
    phase: str
    condition: tuple[str, str, str]  # status, reason, a substring of the message
    progress: str | None
    tasks: list[str]
    actions: list[str]


def check(row: Row) -> None:
    decision = step(row.observed)
    status = decision.status
    condition = succeeded_condition(status)
    assert status["phase"] == row.phase
    assert (condition["status"], condition["reason"]) == row.condition[:2]
    assert row.condition[2] in condition["message"]
    assert condition["observedGeneration"] == status["observedGeneration"]
    assert status.get("progress") == row.progress
    assert task_states(status) == row.tasks
    assert summaries(decision) == row.actions


# --- a new generation: validate, plan, launch ------------------------------------

NEW_GENERATION = {
    "inline script, two scenes": Row(
        observe(spec()),
        "Rendering",
        ("Unknown", "Rendering", "rendering 2 scene(s)"),
        "0/2",
        ["Pending", "Pending"],
        ["Emit Normal Rendering", "StageScript", f"LaunchRender {BOTH}"],
    ),
    "spec.scenes picks one": Row(
        observe(spec(scenes=["Outro"])),
        "Rendering",
        ("Unknown", "Rendering", "rendering 1 scene(s)"),
        "0/1",
        ["Pending"],
        ["Emit Normal Rendering", "StageScript", "LaunchRender ['Outro']"],
    ),
    "both source and clips": Row(
        observe({**spec(), **stitch_only()}),
        "Failed",
        ("False", "InvalidSpec", "exactly one of source (a Manim script) and clips"),
        None,
        [],
        ["Emit Warning InvalidSpec"],
    ),
    "spec.backend names this operator's": Row(
        observe(spec(backend="local")),
        "Rendering",
        ("Unknown", "Rendering", "rendering 2 scene(s)"),
        "0/2",
        ["Pending", "Pending"],
        ["Emit Normal Rendering", "StageScript", f"LaunchRender {BOTH}"],
    ),
    "spec.backend names another operator's": Row(
        observe(spec(backend="cloudrun")),
        "Failed",
        ("False", "InvalidSpec", "spec.backend is 'cloudrun', but this operator runs the 'local'"),
        None,
        [],
        ["Emit Warning InvalidSpec"],
    ),
    "unknown quality": Row(
        observe(spec(quality="ultra")),
        "Failed",
        ("False", "InvalidSpec", "spec.quality = 'ultra' is not one of"),
        None,
        [],
        ["Emit Warning InvalidSpec"],
    ),
    "syntax error, with its line": Row(
        observe(spec(BROKEN)),
        "Failed",
        ("False", "InvalidScript", "videos/intro spec.source.inline:3:"),
        None,
        [],
        ["Emit Warning InvalidScript"],
    ),
    "no Scene class": Row(
        observe(spec(NO_SCENES)),
        "Failed",
        ("False", "InvalidScript", "no Scene classes found"),
        None,
        [],
        ["Emit Warning InvalidScript"],
    ),
    "unknown scene, existing ones listed": Row(
        observe(spec(scenes=["Title", "Credits"])),
        "Failed",
        (
            "False",
            "SceneNotFound",
            "'Credits' not found\n  hint: scenes in this script: Title, Outro",
        ),
        None,
        [],
        ["Emit Warning SceneNotFound"],
    ),
    "missing ConfigMap": Row(
        observe(CONFIG_MAP, source_error=SourceNotFound("ConfigMap videos/scripts not found")),
        "Failed",
        ("False", "SourceNotFound", "ConfigMap videos/scripts not found"),
        None,
        [],
        ["Emit Warning SourceNotFound"],
    ),
    "stitch-only goes straight to Stitching": Row(
        observe(stitch_only(2), clips=clip_stats(2)),
        "Stitching",
        ("Unknown", "Stitching", "stitching 2 clip(s)"),
        None,
        [],
        ["LaunchStitch 2 clip(s)", "Emit Normal Stitching"],
    ),
    "stitch-only with an unreadable clip": Row(
        observe(stitch_only(2), source_error=InvalidClip("part-1.mp4 is not a video")),
        "Failed",
        ("False", "InvalidClip", "part-1.mp4 is not a video"),
        None,
        [],
        ["Emit Warning InvalidClip"],
    ),
}


@pytest.mark.parametrize("row", NEW_GENERATION.values(), ids=NEW_GENERATION.keys())
def test_new_generation(row: Row) -> None:
    check(row)


# --- rendering: follow the execution ---------------------------------------------

# With spec.retries 2, Outro fails; its first and second retries are recorded.
RETRIED_ONCE = recorded(
    step(
        observe(
            RETRIES_2,
            rendering(RETRIES_2),
            render=report("render-1", "Failed", task(0, "Succeeded"), task(1, "Failed", TRACEBACK)),
            stored=stored("Title"),
        )
    ),
    render="render-2",
)
RETRIED_TWICE = recorded(
    step(
        observe(
            RETRIES_2,
            RETRIED_ONCE,
            render=report("render-2", "Failed", task(1, "Failed", TRACEBACK)),
            stored=stored("Title"),
        )
    ),
    render="render-3",
)
EMPTY_OUTRO = {
    clip_uri("Title"): manifest("Title"),
    clip_uri("Outro"): manifest("Outro", has_clip=False),
}
ALL_EMPTY = {clip_uri(s): manifest(s, has_clip=False) for s in BOTH}
ALL_DONE = report("render-1", "Succeeded", task(0, "Succeeded"), task(1, "Succeeded"))

RENDERING = {
    "still running": Row(
        observe(spec(), rendering(), render=report("render-1", "Running", task(0, "Running"))),
        "Rendering",
        ("Unknown", "Rendering", "rendering 2 scene(s)"),
        "0/2",
        ["Running", "Pending"],
        [],
    ),
    "one scene rendered": Row(
        observe(
            spec(),
            rendering(),
            render=report("render-1", "Running", task(0, "Succeeded"), task(1, "Running")),
            stored=stored("Title"),
        ),
        "Rendering",
        ("Unknown", "Rendering", ""),
        "1/2",
        ["Succeeded", "Running"],
        ["Emit Normal SceneRendered"],
    ),
    "all rendered and stored: stitch": Row(
        observe(spec(), rendering(), render=ALL_DONE, stored=stored(*BOTH)),
        "Stitching",
        ("Unknown", "Stitching", "stitching 2 clip(s)"),
        "2/2",
        ["Succeeded", "Succeeded"],
        [
            "Emit Normal SceneRendered",
            "Emit Normal SceneRendered",
            "LaunchStitch 2 clip(s)",
            "Emit Normal Stitching",
        ],
    ),
    "all rendered, but a clip is gone from storage: render it again": Row(
        observe(spec(), rendering(), render=ALL_DONE, stored=stored("Title")),
        "Rendering",
        ("Unknown", "Rendering", ""),
        "1/2",
        ["Succeeded", "Pending"],
        [
            "Emit Normal SceneRendered",
            "Emit Normal SceneRendered",
            "Emit Warning ClipMissing",
            "LaunchRender ['Outro']",
        ],
    ),
    "an empty scene is left out of the stitch": Row(
        observe(spec(), rendering(), render=ALL_DONE, stored=EMPTY_OUTRO),
        "Stitching",
        ("Unknown", "Stitching", "stitching 1 clip(s)"),
        "2/2",
        ["Succeeded", "Succeeded"],
        [
            "Emit Normal SceneRendered",
            "Emit Normal SceneRendered",
            "LaunchStitch 1 clip(s)",
            "Emit Normal Stitching",
        ],
    ),
    "every scene empty": Row(
        observe(spec(), rendering(), render=ALL_DONE, stored=ALL_EMPTY),
        "Failed",
        ("False", "InvalidScript", "no scene played any animation"),
        "2/2",
        ["Succeeded", "Succeeded"],
        [
            "Emit Normal SceneRendered",
            "Emit Normal SceneRendered",
            "Emit Warning InvalidScript",
        ],
    ),
    "a scene failed, no retries: fail fast": Row(
        observe(
            spec(),
            rendering(),
            render=report("render-1", "Running", task(0, "Running"), task(1, "Failed", TRACEBACK)),
        ),
        "Failed",
        ("False", "RenderFailed", "ZeroDivisionError: division by zero"),
        "0/2",
        ["Running", "Failed"],
        ["Emit Warning SceneFailed", "Cancel render-1", "Emit Warning RenderFailed"],
    ),
    "a scene failed, retries left: wait for the execution": Row(
        observe(
            RETRIES_2,
            rendering(RETRIES_2),
            render=report("render-1", "Running", task(0, "Running"), task(1, "Failed", TRACEBACK)),
        ),
        "Rendering",
        ("Unknown", "Rendering", ""),
        "0/2",
        ["Running", "Failed"],
        ["Emit Warning SceneFailed"],
    ),
    "a scene failed, execution over: retry only it": Row(
        observe(
            RETRIES_2,
            rendering(RETRIES_2),
            render=report("render-1", "Failed", task(0, "Succeeded"), task(1, "Failed", TRACEBACK)),
            stored=stored("Title"),
        ),
        "Rendering",
        ("Unknown", "Rendering", ""),
        "1/2",
        ["Succeeded", "Pending"],
        [
            "Emit Normal SceneRendered",
            "Emit Warning SceneFailed",
            "Emit Warning RetryingTasks",
            "LaunchRender ['Outro']",
        ],
    ),
    "the retry succeeded: stitch": Row(
        observe(
            RETRIES_2,
            RETRIED_ONCE,
            render=report("render-2", "Succeeded", task(1, "Succeeded")),
            stored=stored(*BOTH),
        ),
        "Stitching",
        ("Unknown", "Stitching", ""),
        "2/2",
        ["Succeeded", "Succeeded"],
        ["Emit Normal SceneRendered", "LaunchStitch 2 clip(s)", "Emit Normal Stitching"],
    ),
    "retries exhausted": Row(
        observe(
            RETRIES_2,
            RETRIED_TWICE,
            render=report("render-3", "Failed", task(1, "Failed", TRACEBACK)),
            stored=stored("Title"),
        ),
        "Failed",
        ("False", "RenderFailed", "ZeroDivisionError"),
        "1/2",
        ["Succeeded", "Failed"],
        ["Emit Warning SceneFailed", "Cancel render-3", "Emit Warning RenderFailed"],
    ),
    "execution lost: keep stored clips, redo the rest": Row(
        observe(spec(), rendering(), render=report("render-1", "Unknown"), stored=stored("Title")),
        "Rendering",
        ("Unknown", "Rendering", ""),
        "1/2",
        ["Succeeded", "Pending"],
        ["Emit Warning ExecutionLost", "LaunchRender ['Outro']"],
    ),
    "execution lost after every clip was stored: stitch": Row(
        observe(spec(), rendering(), render=report("render-1", "Unknown"), stored=stored(*BOTH)),
        "Stitching",
        ("Unknown", "Stitching", ""),
        "2/2",
        ["Succeeded", "Succeeded"],
        ["LaunchStitch 2 clip(s)", "Emit Normal Stitching"],
    ),
    "launch not recorded: re-attach": Row(
        observe(spec(), {**rendering(), "execution": {**rendering()["execution"], "render": None}}),
        "Rendering",
        ("Unknown", "Rendering", ""),
        "0/2",
        ["Pending", "Pending"],
        [f"LaunchRender {BOTH}"],
    ),
    "execution cancelled outside the operator": Row(
        observe(
            spec(),
            rendering(),
            render=report("render-1", "Cancelled", task(0, "Cancelled"), task(1, "Cancelled")),
        ),
        "Failed",
        ("False", "Cancelled", "cancelled outside the operator"),
        "0/2",
        ["Cancelled", "Cancelled"],
        ["Emit Warning Cancelled"],
    ),
    "timeoutSeconds not yet passed": Row(
        observe(
            TIMEOUT_60, rendering(TIMEOUT_60), now=at(60), render=report("render-1", "Running")
        ),
        "Rendering",
        ("Unknown", "Rendering", ""),
        "0/2",
        ["Pending", "Pending"],
        [],
    ),
    "timeoutSeconds passed": Row(
        observe(
            TIMEOUT_60, rendering(TIMEOUT_60), now=at(61), render=report("render-1", "Running")
        ),
        "Failed",
        ("False", "DeadlineExceeded", "not finished within spec.timeoutSeconds (60 s)"),
        "0/2",
        ["Pending", "Pending"],
        ["Cancel render-1", "Emit Warning DeadlineExceeded"],
    ),
}


@pytest.mark.parametrize("row", RENDERING.values(), ids=RENDERING.keys())
def test_rendering(row: Row) -> None:
    check(row)


# --- stitching: follow the stitch ------------------------------------------------

STITCH_DONE = report("stitch-1", "Succeeded", details={"mode": "reencode", "duration": "4.0"})
STITCH_FAILED = report(
    "stitch-1", "Failed", reason="StitchFailed", message="ffmpeg: Invalid data found"
)
STITCH_TIMEOUT = spec(timeoutSeconds=600)

STITCHING = {
    "stitch running": Row(
        observe(spec(), stitching(), render=ALL_DONE, stitch=report("stitch-1", "Running")),
        "Stitching",
        ("Unknown", "Stitching", "stitching 2 clip(s)"),
        "2/2",
        ["Succeeded", "Succeeded"],
        [],
    ),
    "stitch succeeded": Row(
        observe(spec(), stitching(), render=ALL_DONE, stitch=STITCH_DONE, stored=stored(*BOTH)),
        "Succeeded",
        ("True", "Stitched", f"video ready at {ROOT}/videos/videos/intro.mp4 (4.0 s)"),
        "2/2",
        ["Succeeded", "Succeeded"],
        ["Emit Normal Succeeded"],
    ),
    "stitch failed": Row(
        observe(spec(), stitching(), render=ALL_DONE, stitch=STITCH_FAILED),
        "Failed",
        ("False", "StitchFailed", "ffmpeg: Invalid data found"),
        "2/2",
        ["Succeeded", "Succeeded"],
        ["Emit Warning StitchFailed"],
    ),
    "stitch failed with the stitcher's reason": Row(
        observe(
            spec(),
            stitching(),
            render=ALL_DONE,
            stitch=report("stitch-1", "Failed", reason="InvalidClip", message="not a video"),
        ),
        "Failed",
        ("False", "InvalidClip", "not a video"),
        "2/2",
        ["Succeeded", "Succeeded"],
        ["Emit Warning InvalidClip"],
    ),
    "stitch lost: stitch again": Row(
        observe(
            spec(),
            stitching(),
            render=ALL_DONE,
            stitch=report("stitch-1", "Unknown"),
            stored=stored(*BOTH),
        ),
        "Stitching",
        ("Unknown", "Stitching", ""),
        "2/2",
        ["Succeeded", "Succeeded"],
        ["LaunchStitch 2 clip(s)", "Emit Normal Stitching"],
    ),
    "timeoutSeconds passed while stitching": Row(
        observe(
            STITCH_TIMEOUT,
            stitching(STITCH_TIMEOUT),
            now=at(601),
            render=ALL_DONE,
            stitch=report("stitch-1", "Running"),
        ),
        "Failed",
        ("False", "DeadlineExceeded", "(600 s)"),
        "2/2",
        ["Succeeded", "Succeeded"],
        ["Cancel stitch-1", "Emit Warning DeadlineExceeded"],
    ),
}


@pytest.mark.parametrize("row", STITCHING.values(), ids=STITCHING.keys())
def test_stitching(row: Row) -> None:
    check(row)


# --- a spec change: cancel the old generation, re-use what did not change ---------

RENDERING_G1 = rendering()
SUCCEEDED_G1 = recorded(
    step(observe(spec(), stitching(), render=ALL_DONE, stitch=STITCH_DONE, stored=stored(*BOTH)))
)
EDITED = SCRIPT.replace("chalkline", "chalkline 2")

SPEC_CHANGE = {
    "mid-render, unchanged scene re-used": Row(
        observe(
            spec(parallelism=1),
            RENDERING_G1,
            generation=2,
            render=report("render-1", "Running", task(0, "Succeeded"), task(1, "Running")),
            stored=stored("Title"),
        ),
        "Rendering",
        ("Unknown", "Rendering", "rendering 2 scene(s)"),
        "1/2",
        ["Succeeded", "Pending"],
        ["Cancel render-1", "Emit Normal Rendering", "StageScript", "LaunchRender ['Outro']"],
    ),
    "after success, only the output changed: stitch again": Row(
        observe(
            spec(output="file:///videos/final.mp4"),
            SUCCEEDED_G1,
            generation=2,
            render=ALL_DONE,
            stitch=STITCH_DONE,
            stored=stored(*BOTH),
        ),
        "Stitching",
        ("Unknown", "Stitching", "stitching 2 clip(s)"),
        "2/2",
        ["Succeeded", "Succeeded"],
        ["LaunchStitch 2 clip(s)", "Emit Normal Stitching"],
    ),
    "after success, another quality: render everything": Row(
        observe(
            spec(quality="high"),
            SUCCEEDED_G1,
            generation=2,
            render=ALL_DONE,
            stitch=STITCH_DONE,
            stored=stored(*BOTH),
        ),
        "Rendering",
        ("Unknown", "Rendering", ""),
        "0/2",
        ["Pending", "Pending"],
        ["Emit Normal Rendering", "StageScript", f"LaunchRender {BOTH}"],
    ),
    "after success, an edited script: render everything": Row(
        observe(
            spec(EDITED),
            SUCCEEDED_G1,
            generation=2,
            render=ALL_DONE,
            stitch=STITCH_DONE,
            stored=stored(*BOTH),
        ),
        "Rendering",
        ("Unknown", "Rendering", ""),
        "0/2",
        ["Pending", "Pending"],
        ["Emit Normal Rendering", "StageScript", f"LaunchRender {BOTH}"],
    ),
    "mid-stitch, changed to an invalid spec": Row(
        observe(
            spec(quality="ultra"),
            stitching(),
            generation=2,
            render=ALL_DONE,
            stitch=report("stitch-1", "Running"),
        ),
        "Failed",
        ("False", "InvalidSpec", "spec.quality"),
        None,
        [],
        ["Cancel stitch-1", "Emit Warning InvalidSpec"],
    ),
}


@pytest.mark.parametrize("row", SPEC_CHANGE.values(), ids=SPEC_CHANGE.keys())
def test_spec_change(row: Row) -> None:
    check(row)


# --- the details -----------------------------------------------------------------


def test_a_new_job_records_what_it_started_from() -> None:
    decision = step(observe(spec(parallelism=3)))
    status = decision.status
    digest = script_hash(SCRIPT)
    assert status["observedGeneration"] == 1
    assert status["startTime"] == "2025-01-01T12:00:00Z"
    assert status["execution"] == {
        "generation": 1,
        "attempt": 0,
        "script": digest,
        "lost": 0,
        "render": None,
    }
    staged = only(decision, StageScript)
    assert (staged.uri, staged.text) == (LAYOUT.script(JOB, digest), SCRIPT)
    launch = only(decision, LaunchRender)
    assert launch.key == "uid-1-g1-a0-l0"
    assert launch.parallelism == 3
    assert [(w.index, w.scene, w.clip_uri) for w in launch.work] == [
        (0, "Title", clip_uri("Title")),
        (1, "Outro", clip_uri("Outro")),
    ]
    assert {(w.script_uri, w.quality, w.cache_key) for w in launch.work} == {
        (staged.uri, "low", "videos-intro-uid-1")
    }
    assert [t["clip"] for t in status["tasks"]] == [clip_uri("Title"), clip_uri("Outro")]
    assert only(decision, Emit).message == "rendering 2 of 2 scene(s) at low quality"


def test_a_rendered_scene_is_announced_with_its_count() -> None:
    report_ = report("render-1", "Running", task(0, "Succeeded", seconds=4.25))
    decision = step(observe(spec(), rendering(), render=report_))
    assert only(decision, Emit).message == "scene Title rendered in 4.2 s (1/2)"
    assert decision.status["tasks"][0]["seconds"] == 4.25


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (None, LAYOUT.default_output(JOB)),
        ("gs://reels-bucket/intro.mp4", "gs://reels-bucket/intro.mp4"),
    ],
)
def test_the_stitch_joins_clips_in_scene_order_into_the_output(
    output: str | None, expected: str
) -> None:
    job_spec = spec(scenes=["Outro", "Title"], **({"output": output} if output else {}))
    done = report("render-1", "Succeeded", task(0, "Succeeded"), task(1, "Succeeded"))
    decision = step(observe(job_spec, rendering(job_spec), render=done, stored=stored(*BOTH)))
    stitch = only(decision, LaunchStitch)
    assert stitch.key == "uid-1-g1-stitch-0"
    assert stitch.work.clip_uris == (clip_uri("Outro"), clip_uri("Title"))
    assert stitch.work.output_uri == expected
    assert decision.status["stitch"] == {
        "tier": "small",
        "cpu": "1",
        "memory": "2Gi",
        "timeoutSeconds": 600,
        "mode": "copy",
    }
    assert (stitch.work.tier, stitch.work.timeout_seconds) == ("small", 600)
    assert float(decision.status["estimatedCost"]) > 0


def test_a_retry_relaunches_only_failed_scenes_under_a_new_key() -> None:
    failed = report("render-1", "Failed", task(0, "Succeeded"), task(1, "Failed", TRACEBACK))
    decision = step(observe(RETRIES_2, rendering(RETRIES_2), render=failed, stored=stored("Title")))
    launch = only(decision, LaunchRender)
    assert launch.key == "uid-1-g1-a1-l0"
    assert [(w.index, w.clip_uri) for w in launch.work] == [(1, clip_uri("Outro"))]
    assert emitted(decision, "RetryingTasks") == "retrying 1 failed scene(s), attempt 1 of 2"
    assert emitted(decision, "SceneFailed") == TRACEBACK
    assert RETRIED_ONCE["execution"]["attempt"] == 1
    assert [t["attempts"] for t in RETRIED_ONCE["tasks"]] == [1, 2]
    assert [t["attempts"] for t in RETRIED_TWICE["tasks"]] == [1, 3]


def test_a_lost_execution_is_relaunched_under_a_new_key() -> None:
    lost = report("render-1", "Unknown")
    decision = step(observe(spec(), rendering(), render=lost, stored=stored("Title")))
    launch = only(decision, LaunchRender)
    assert only(step(observe(spec())), LaunchRender).key == "uid-1-g1-a0-l0"
    assert launch.key == "uid-1-g1-a0-l1"
    assert decision.status["execution"]["lost"] == 1
    assert only(decision, Emit).message == "execution render-1 is gone; re-rendering 1 scene(s)"
    assert decision.status["tasks"][0]["seconds"] == manifest("Title").render_seconds
    assert [t["attempts"] for t in decision.status["tasks"]] == [1, 2]  # bug fixed: was [0, 2]


def test_a_launch_that_was_not_recorded_is_reattached_under_the_same_key() -> None:
    first = step(observe(spec()))
    unrecorded = copy.deepcopy(first.status)
    again = step(observe(spec(), unrecorded))
    assert only(again, LaunchRender) == only(first, LaunchRender)
    assert again.status["execution"]["lost"] == 0


def test_a_finished_stitch_publishes_the_video() -> None:
    later = at(90)
    status = step(
        observe(spec(), stitching(), now=later, stitch=STITCH_DONE, stored=stored(*BOTH))
    ).status
    assert status["videoUri"] == LAYOUT.default_output(JOB)
    assert status["completionTime"] == "2025-01-01T12:01:30Z"
    assert status["stitch"]["mode"] == "reencode"  # what the stitcher did, not the guess
    assert status["stitch"]["tier"] == "small"


@pytest.mark.parametrize(
    ("clips", "minimum", "tier"),
    [
        (clip_stats(2), "auto", "small"),
        (clip_stats(2, width=3840, height=2160), "auto", "xlarge"),
        (clip_stats(8), "auto", "large"),
        (clip_stats(2), "medium", "medium"),
        (clip_stats(8), "medium", "large"),
    ],
    ids=["2 reels", "4K", "8 reels", "minimum honoured", "minimum below the fit"],
)
def test_a_stitch_only_job_is_sized_from_its_clips(
    clips: tuple[ClipStats, ...], minimum: str, tier: str
) -> None:
    job_spec = stitch_only(len(clips), stitch={"tier": minimum})
    decision = step(observe(job_spec, clips=clips))
    launch = only(decision, LaunchStitch)
    assert decision.status["stitch"]["tier"] == launch.work.tier == tier
    assert launch.work.clip_uris == tuple(job_spec["clips"])
    assert launch.work.output_uri == LAYOUT.default_output(JOB)


def test_a_spec_change_says_which_scenes_it_reuses() -> None:
    decision = step(
        observe(spec(parallelism=1), RENDERING_G1, generation=2, stored=stored("Title"))
    )
    assert emitted(decision, "Rendering") == (
        "rendering 1 of 2 scene(s) at low quality; 1 unchanged scene(s) re-used"
    )
    assert only(decision, LaunchRender).key == "uid-1-g2-a0-l0"
    assert decision.status["observedGeneration"] == 2
    assert decision.status["execution"]["generation"] == 2
    assert succeeded_condition(decision.status)["observedGeneration"] == 2


@pytest.mark.parametrize(
    "status",
    [SUCCEEDED_G1, step(observe(spec(BROKEN))).status],
    ids=["Succeeded", "Failed"],
)
def test_a_finished_job_is_left_alone(status: Status) -> None:
    decision = step(observe(spec(), status, render=ALL_DONE, stitch=STITCH_DONE))
    assert decision == Decision(status, ())


def test_reconciling_twice_with_the_same_observations_changes_nothing() -> None:
    running = report("render-1", "Running", task(0, "Succeeded"), task(1, "Running"))
    once = recorded(step(observe(spec(), rendering(), render=running, stored=stored("Title"))))
    twice = step(observe(spec(), once, render=running, stored=stored("Title")))
    assert (twice.status, twice.actions) == (once, ())


def test_last_transition_time_moves_only_when_the_condition_status_does() -> None:
    def since(status: Status) -> str:
        return str(succeeded_condition(status)["lastTransitionTime"])

    started = rendering()
    progressed = recorded(
        step(
            observe(
                spec(),
                started,
                now=at(10),
                render=report("render-1", "Running", task(0, "Succeeded")),
            )
        )
    )
    stitched = recorded(
        step(observe(spec(), progressed, now=at(20), render=ALL_DONE, stored=stored(*BOTH)))
    )
    done = step(observe(spec(), stitched, now=at(30), stitch=STITCH_DONE)).status
    changed = step(observe(spec(quality="medium"), done, generation=2, now=at(40))).status
    assert succeeded_condition(stitched)["reason"] == "Stitching"
    assert [since(s) for s in (started, progressed, stitched, done, changed)] == [
        "2025-01-01T12:00:00Z",
        "2025-01-01T12:00:00Z",
        "2025-01-01T12:00:00Z",
        "2025-01-01T12:00:30Z",
        "2025-01-01T12:00:40Z",
    ]


def test_the_reconciler_does_not_change_what_it_was_given() -> None:
    status = rendering()
    before = copy.deepcopy(status)
    observed = observe(spec(), status, render=ALL_DONE, stored=stored(*BOTH))
    step(observed)
    assert status == before
    assert observed.status.to_dict() == before  # nor the typed view the controller gave it


# --- bugs found while writing these tables ----------------------------------------


def test_a_finished_execution_that_left_scenes_unrendered_is_not_stuck() -> None:
    """A backend may end an execution as Failed with the other tasks Cancelled."""
    ended = report(
        "render-1",
        "Failed",
        task(0, "Cancelled"),
        task(1, "Cancelled"),
        message="worker out of memory",
    )
    failed = step(observe(spec(), rendering(), render=ended))
    assert failed.status["phase"] == "Failed"
    assert succeeded_condition(failed.status)["reason"] == "RenderFailed"
    assert "worker out of memory" in succeeded_condition(failed.status)["message"]

    assert task_states(failed.status) == ["Failed", "Failed"]

    retried = step(observe(RETRIES_2, rendering(RETRIES_2), render=ended))
    assert retried.status["phase"] == "Rendering"
    assert [w.scene for w in only(retried, LaunchRender).work] == BOTH
    assert only(retried, LaunchRender).key == "uid-1-g1-a1-l0"


def test_a_stitch_only_job_whose_clips_vanished_fails_instead_of_crashing() -> None:
    """Operator restarted mid-stitch, and a clip was deleted meanwhile."""
    job_spec = stitch_only(2)
    started = recorded(step(observe(job_spec, clips=clip_stats(2))))
    gone = SourceNotFound("file:///clips/part-1.mp4 not found")
    decision = step(
        observe(job_spec, started, stitch=report("stitch-1", "Unknown"), source_error=gone)
    )
    assert decision.status["phase"] == "Failed"
    assert succeeded_condition(decision.status)["reason"] == "SourceNotFound"
    assert not [a for a in decision.actions if isinstance(a, LaunchStitch | Cancel)]


# --- stitch escalation: out of memory or time, one tier up, once ----------------

BOTH_STORED = stored(*SCENES)
STITCH_OOM = report(
    "stitch-1", "Failed", reason="StitchOutOfMemory", message="Memory limit of 2048 MiB exceeded"
)


def test_a_stitch_that_ran_out_of_memory_is_retried_once_one_tier_up() -> None:
    before = stitching()
    assert before["stitch"]["tier"] == "small"
    decision = step(observe(spec(), before, render=ALL_DONE, stitch=STITCH_OOM, stored=BOTH_STORED))
    status = decision.status
    assert status["phase"] == "Stitching"
    assert status["stitch"]["tier"] == "medium"
    assert (status["stitch"]["cpu"], status["stitch"]["memory"]) == ("2", "4Gi")
    assert summaries(decision) == [
        "Emit Warning StitchEscalated",
        "LaunchStitch 2 clip(s)",
        "Emit Normal Stitching",
    ]
    escalation = next(a for a in decision.actions if isinstance(a, Emit))
    assert escalation.message == (
        "the stitch on tier small ran out of memory; retrying once on tier medium"
    )
    launch = only(decision, LaunchStitch)
    assert launch.work.tier == "medium"
    assert launch.key.endswith("-stitch-1")  # a new execution, not a re-attach


def test_a_second_out_of_memory_fails_the_job() -> None:
    escalated = recorded(
        step(observe(spec(), stitching(), render=ALL_DONE, stitch=STITCH_OOM, stored=BOTH_STORED)),
        stitch="stitch-2",
    )
    again = report(
        "stitch-2",
        "Failed",
        reason="StitchOutOfMemory",
        message="Memory limit of 4096 MiB exceeded",
    )
    decision = step(observe(spec(), escalated, render=ALL_DONE, stitch=again, stored=BOTH_STORED))
    assert decision.status["phase"] == "Failed"
    condition = decision.status["conditions"][-1]
    assert (condition["status"], condition["reason"]) == ("False", "StitchOutOfMemory")
    assert "4096 MiB" in condition["message"]


def test_a_stitch_timeout_on_the_largest_tier_fails_at_once() -> None:
    largest = stitching(spec(stitch={"tier": "xlarge"}))
    assert largest["stitch"]["tier"] == "xlarge"
    timed_out = report("stitch-1", "Failed", reason="StitchTimedOut", message="timed out")
    decision = step(
        observe(
            spec(stitch={"tier": "xlarge"}),
            largest,
            render=ALL_DONE,
            stitch=timed_out,
            stored=BOTH_STORED,
        )
    )
    assert decision.status["phase"] == "Failed"
    assert decision.status["conditions"][-1]["reason"] == "StitchTimedOut"


# --- cost: what the executions used, each counted once ---------------------------

#: With spec.retries 2: render-1 fails Outro, render-2 renders it, stitch-1 joins both.
FIRST_TRY = report(
    "render-1",
    "Failed",
    task(0, "Succeeded"),
    task(1, "Failed", TRACEBACK),
    usage=Usage(10.0, 20.0),
)
SECOND_TRY = report("render-2", "Succeeded", task(1, "Succeeded"), usage=Usage(4.0, 8.0))
RETRYING = recorded(
    step(observe(RETRIES_2, rendering(RETRIES_2), render=FIRST_TRY, stored=stored("Title"))),
    render="render-2",
)
JOINING = recorded(step(observe(RETRIES_2, RETRYING, render=SECOND_TRY, stored=stored(*BOTH))))
JOINED = replace(STITCH_DONE, usage=Usage(1.0, 2.0))
PAID_G1 = step(observe(RETRIES_2, JOINING, render=SECOND_TRY, stitch=JOINED)).status

COST = {
    "a failed render counts when it is retried": (
        observe(RETRIES_2, rendering(RETRIES_2), render=FIRST_TRY, stored=stored("Title")),
        (10.0, 20.0),
    ),
    "the retry adds to it when the stitch starts": (
        observe(RETRIES_2, RETRYING, render=SECOND_TRY, stored=stored(*BOTH)),
        (14.0, 28.0),
    ),
    "the finished render, seen again while stitching, is not counted again": (
        observe(
            RETRIES_2,
            JOINING,
            render=SECOND_TRY,
            stitch=report("stitch-1", "Running", usage=Usage(0.5, 1.0)),
        ),
        (14.0, 28.0),
    ),
    "the stitch adds to it when the video is published": (
        observe(RETRIES_2, JOINING, render=SECOND_TRY, stitch=JOINED),
        (15.0, 30.0),
    ),
    "a running render is not counted yet": (
        observe(
            spec(),
            rendering(),
            render=report("render-1", "Running", task(0, "Running"), usage=Usage(3.0, 6.0)),
        ),
        None,
    ),
    "an execution that ended with a scene still open is not counted while it waits": (
        observe(
            spec(),
            rendering(),
            render=report("render-1", "Succeeded", task(0, "Succeeded"), usage=Usage(3.0, 6.0)),
            stored=stored("Title"),
        ),
        None,
    ),
    "a failed render cancelled with no retries left counts": (
        observe(
            spec(),
            rendering(),
            render=report(
                "render-1",
                "Running",
                task(0, "Running"),
                task(1, "Failed", TRACEBACK),
                usage=Usage(6.0, 12.0),
            ),
        ),
        (6.0, 12.0),
    ),
    "a render cancelled outside the operator counts": (
        observe(
            spec(),
            rendering(),
            render=report("render-1", "Cancelled", task(0, "Cancelled"), usage=Usage(1.5, 3.0)),
        ),
        (1.5, 3.0),
    ),
    "a failed stitch counts": (
        observe(
            spec(),
            stitching(),
            render=ALL_DONE,
            stitch=replace(STITCH_FAILED, usage=Usage(2.0, 4.0)),
        ),
        (2.0, 4.0),
    ),
    "a stitch out of memory counts before it is retried one tier up": (
        observe(
            spec(),
            stitching(),
            render=ALL_DONE,
            stitch=replace(STITCH_OOM, usage=Usage(2.0, 4.0)),
            stored=BOTH_STORED,
        ),
        (2.0, 4.0),
    ),
    "past the deadline, what the cancelled render used so far counts": (
        observe(
            TIMEOUT_60,
            rendering(TIMEOUT_60),
            now=at(61),
            render=report("render-1", "Running", usage=Usage(120.0, 240.0)),
        ),
        (120.0, 240.0),
    ),
    "an executor that cannot tell (local) adds nothing": (
        observe(spec(), stitching(), render=ALL_DONE, stitch=STITCH_DONE, stored=BOTH_STORED),
        None,
    ),
    "a new generation starts from nothing": (
        observe(spec(quality="medium"), PAID_G1, generation=2),
        None,
    ),
}


@pytest.mark.parametrize(("observed", "total"), COST.values(), ids=COST.keys())
def test_cost(observed: Observed, total: tuple[float, float] | None) -> None:
    cost = step(observed).status.get("cost")
    if total is None:
        assert cost is None
        return
    prices = SETTINGS.tier_table.prices
    usd = total[0] * prices.cpu_second_usd + total[1] * prices.gib_second_usd
    assert cost == {"cpuSeconds": total[0], "gibSeconds": total[1], "usd": f"{usd:.6f}"}


def test_the_whole_run_is_paid_once_at_the_configured_prices() -> None:
    cheap = replace(
        load_tier_table(), prices=Prices(cpu_second_usd=0.00001, gib_second_usd=0.000001)
    )
    settings = Settings(storage_root=ROOT, tier_table=cheap)
    decision = reconcile(observe(RETRIES_2, JOINING, render=SECOND_TRY, stitch=JOINED), settings)
    # (10 + 4 + 1) vCPU-s at $0.00001 and (20 + 8 + 2) GiB-s at $0.000001
    assert decision.status["cost"] == {"cpuSeconds": 15.0, "gibSeconds": 30.0, "usd": "0.000180"}
    assert PAID_G1["phase"] == "Succeeded"
    assert PAID_G1["cost"]["usd"] == "0.000435"  # the packaged prices: 0.000024 and 0.0000025
    assert PAID_G1["estimatedCost"] != PAID_G1["cost"]["usd"]  # the estimate stays as it was


def test_a_pass_recomputed_from_the_old_status_counts_once() -> None:
    """The status write failed, or the operator restarted before it: the same pass runs again."""
    observed = observe(RETRIES_2, rendering(RETRIES_2), render=FIRST_TRY, stored=stored("Title"))
    first, again = step(observed), step(observed)
    assert (
        first.status["cost"]
        == again.status["cost"]
        == {
            "cpuSeconds": 10.0,
            "gibSeconds": 20.0,
            "usd": "0.000290",
        }
    )


# --- a signed link to the video ----------------------------------------------------

SIGNING = Settings(storage_root=ROOT, signed_url_seconds=3600)
PUBLISHED = observe(spec(), stitching(), render=ALL_DONE, stitch=STITCH_DONE, stored=BOTH_STORED)


def test_a_signed_link_is_asked_for_on_success_when_configured() -> None:
    decision = reconcile(PUBLISHED, SIGNING)
    assert decision.status["phase"] == "Succeeded"
    assert only(decision, SignVideoUrl) == SignVideoUrl(LAYOUT.default_output(JOB), 3600)
    assert decision.status["videoUrl"] is None  # the controller signs and writes it


@pytest.mark.parametrize(
    ("observed", "settings"),
    [
        (PUBLISHED, SETTINGS),
        (observe(spec(), stitching(), render=ALL_DONE, stitch=STITCH_FAILED), SIGNING),
        (observe(spec(BROKEN)), SIGNING),
    ],
    ids=["not configured", "stitch failed", "invalid script"],
)
def test_no_signed_link_is_asked_for_otherwise(observed: Observed, settings: Settings) -> None:
    decision = reconcile(observed, settings)
    assert not [a for a in decision.actions if isinstance(a, SignVideoUrl)]


def test_a_new_generation_drops_the_old_videos_link() -> None:
    signed = {
        **SUCCEEDED_G1,
        "videoUrl": "https://storage.googleapis.com/videos/intro.mp4?X-Goog-Signature=ab",
        "videoUrlExpires": "2025-01-01T13:00:00Z",
    }
    status = step(observe(spec(quality="medium"), signed, generation=2)).status
    assert (status["videoUri"], status["videoUrl"], status["videoUrlExpires"]) == (None, None, None)


# --- the status dict <-> its typed view: a round trip changes nothing ---------------


def as_kubernetes_stores(value: Any) -> Any:
    """``value`` after a JSON merge patch: a null removes its key."""
    if isinstance(value, dict):
        return {k: as_kubernetes_stores(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [as_kubernetes_stores(v) for v in value]
    return value


LAUNCH_NOT_RECORDED = step(observe(spec())).status
ESCALATED = recorded(
    step(observe(spec(), stitching(), render=ALL_DONE, stitch=STITCH_OOM, stored=BOTH_STORED)),
    stitch="stitch-2",
)
SIGNED = {
    **SUCCEEDED_G1,
    "videoUrl": "https://storage.googleapis.com/videos/intro.mp4?X-Goog-Signature=ab",
    "videoUrlExpires": "2025-01-01T13:00:00Z",
}
WITH_OTHERS_KEYS = {
    **RENDERING_G1,
    "conditions": [
        {"type": "Ready", "status": "True", "reason": "Other", "message": "another controller's"},
        *RENDERING_G1["conditions"],
    ],
    "tasks": [{**t, "node": "n-1"} for t in RENDERING_G1["tasks"]],
    "execution": {**RENDERING_G1["execution"], "region": "europe-west1"},
    "stitch": {"tier": "small", "cpu": "1", "memory": "2Gi", "timeoutSeconds": 600, "gpu": 0},
    "kopf": {"progress": {"reconcile": {"retries": 1}}},
}

STATUSES: dict[str, Status] = {
    "new (empty)": {},
    "rendering": RENDERING_G1,
    "launch not yet recorded (a null handle)": LAUNCH_NOT_RECORDED,
    "retried once": RETRIED_ONCE,
    "retried twice": RETRIED_TWICE,
    "a scene rendered nothing (empty task)": step(
        observe(spec(), rendering(), render=ALL_DONE, stored=EMPTY_OUTRO)
    ).status,
    "stitching": stitching(),
    "stitch escalated": ESCALATED,
    "stitch-only": recorded(step(observe(stitch_only(2), clips=clip_stats(2)))),
    "succeeded": SUCCEEDED_G1,
    "succeeded, paid": PAID_G1,
    "succeeded, signed link": SIGNED,
    "failed: invalid spec": step(observe(spec(quality="ultra"))).status,
    "failed: render failed": step(
        observe(
            spec(),
            rendering(),
            render=report("render-1", "Running", task(1, "Failed", TRACEBACK)),
        )
    ).status,
    "another generation under way": step(
        observe(spec(quality="medium"), PAID_G1, generation=2)
    ).status,
    "other controllers' and versions' keys": WITH_OTHERS_KEYS,
    "as Kubernetes stores it (no nulls)": as_kubernetes_stores(SUCCEEDED_G1),
    "as Kubernetes stores it, escalated": as_kubernetes_stores(ESCALATED),
    "partial (hand-written)": {"phase": "Rendering", "execution": {"render": "render-1"}},
}


@pytest.mark.parametrize("status", STATUSES.values(), ids=STATUSES.keys())
def test_a_status_reads_and_writes_back_unchanged(status: Status) -> None:
    view = RenderJobStatus.from_dict(status)
    assert view.to_dict() == status
    assert RenderJobStatus.from_dict(view.to_dict()) == view


def test_keys_are_written_in_the_order_the_operator_always_wrote_them() -> None:
    """``chalkline run -o yaml`` prints them so."""
    for status in (RENDERING_G1, ESCALATED, PAID_G1, SIGNED):
        assert json.dumps(RenderJobStatus.from_dict(status).to_dict()) == json.dumps(status)


def test_the_typed_view_reads_what_the_dict_says() -> None:
    view = RenderJobStatus.from_dict(RETRIED_ONCE)
    assert (view.phase, view.observed_generation, view.progress) == ("Rendering", 1, "1/2")
    assert [(t.scene, t.state, t.attempts) for t in view.tasks] == [
        ("Title", "Succeeded", 1),
        ("Outro", "Pending", 2),
    ]
    assert (view.execution.attempt, view.execution.render, view.execution.script) == (
        1,
        "render-2",
        script_hash(SCRIPT),
    )
    paid = RenderJobStatus.from_dict(PAID_G1)
    assert paid.cost is not None and (paid.cost.cpu_seconds, paid.cost.usd) == (15.0, "0.000435")
    assert paid.stitch is not None and (paid.stitch.tier, paid.stitch.mode) == ("small", "reencode")
    escalated = RenderJobStatus.from_dict(ESCALATED).execution
    assert (escalated.stitch_escalated, escalated.stitch_minimum) == (True, "medium")
    assert (escalated.stitch_restarts, escalated.stitch) == (1, "stitch-2")


def test_missing_keys_read_as_defaults_and_stay_missing() -> None:
    view = RenderJobStatus.from_dict({"phase": "Rendering", "tasks": [{"index": 0}]})
    assert (view.observed_generation, view.conditions, view.stitch, view.cost) == (
        None,
        [],
        None,
        None,
    )
    assert (view.execution.attempt, view.execution.lost, view.execution.stitch_restarts) == (
        0,
        0,
        0,
    )
    [only_task] = view.tasks
    assert (only_task.state, only_task.attempts, only_task.empty) == ("Pending", 0, False)
    assert view.to_dict() == {"phase": "Rendering", "tasks": [{"index": 0}]}


def test_what_is_assigned_is_written_and_none_becomes_null() -> None:
    view = RenderJobStatus.from_dict(as_kubernetes_stores(SUCCEEDED_G1))
    view.video_uri = None  # a merge patch removes it
    view.execution.lost += 1  # a nested object changed in place is written too
    view.tasks[0].empty = True
    written = view.to_dict()
    assert written["videoUri"] is None
    assert written["execution"]["lost"] == SUCCEEDED_G1["execution"]["lost"] + 1
    assert written["tasks"][0]["empty"] is True and "empty" not in written["tasks"][1]
    fresh = RenderJobStatus.from_dict({})
    fresh.execution.attempt = 2
    assert fresh.to_dict() == {"execution": {"attempt": 2}}


def test_numbers_as_kubernetes_returns_them_read_as_their_types() -> None:
    """Go's JSON writes 4.0 as 4: a float field still reads as a float."""
    stored = {**RETRIED_ONCE, "tasks": [{**t, "seconds": 4} for t in RETRIED_ONCE["tasks"]]}
    view = RenderJobStatus.from_dict(stored)
    assert [type(t.seconds) for t in view.tasks] == [float, float]
    assert view.to_dict() == stored
