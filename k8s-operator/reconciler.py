"""The pure heart of the operator: (spec, status, observed) -> (status, actions).

Level-triggered and idempotent, like a controller-runtime ``Reconcile``: it
reads what the executor and storage report, moves the RenderJob one step
toward its spec, and says what to do. It performs no I/O and keeps no memory
beyond ``status``, so a restarted operator continues exactly where the last
one stopped, and every transition is a row in a test table.

Phases: Pending -> Rendering -> Stitching -> Succeeded, or Failed from any.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalkline.core.errors import ChalklineError, InvalidScript
from chalkline.core.layout import JobRef, Layout, script_hash
from chalkline.core.records import ClipManifest
from chalkline.core.scenes import discover_scenes, select_scenes
from chalkline.core.spec import RenderJobSpec, parse_spec
from chalkline.executors.base import ExecutionReport, RenderWork, StitchWork, TaskReport
from chalkline.operator.actions import (
    Action,
    Cancel,
    Emit,
    LaunchRender,
    LaunchStitch,
    SignVideoUrl,
    StageScript,
)
from chalkline.operator.conditions import SUCCEEDED, set_condition
from chalkline.stitcher.tier_table import load_tier_table
from chalkline.stitcher.tiers import StitchLoad, TierTable, choose_tier, next_tier

Status = dict[str, Any]
FINAL_PHASES = ("Succeeded", "Failed")
#: Executor reasons after which a stitch is retried once on the next tier.
ESCALATING_REASONS = {
    "StitchOutOfMemory": "ran out of memory",
    "StitchTimedOut": "ran out of time",
}


@dataclass(frozen=True)
class ClipStats:
    """What the tier choice needs to know about one clip to stitch."""

    uri: str
    size_bytes: int
    width: int
    height: int
    duration: float
    fps: float
    has_audio: bool

    @classmethod
    def from_manifest(cls, uri: str, manifest: ClipManifest) -> ClipStats:
        return cls(
            uri,
            manifest.size_bytes,
            manifest.width,
            manifest.height,
            manifest.duration,
            manifest.fps,
            manifest.has_audio,
        )


@dataclass(frozen=True)
class Observed:
    """Everything the reconciler may look at, gathered by the controller."""

    job: JobRef
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    now: datetime
    script: str | None = None
    source_error: ChalklineError | None = None
    stored: Mapping[str, ClipManifest] = field(default_factory=dict)
    clips: tuple[ClipStats, ...] | None = None
    render: ExecutionReport | None = None
    stitch: ExecutionReport | None = None


@dataclass(frozen=True)
class Settings:
    """Operator configuration the decisions depend on."""

    storage_root: str
    tier_table: TierTable = field(default_factory=load_tier_table)
    #: Sign a link to the finished video valid this long (0: do not).
    signed_url_seconds: int = 0


@dataclass(frozen=True)
class Decision:
    status: Status
    actions: tuple[Action, ...] = ()


def reconcile(observed: Observed, settings: Settings) -> Decision:
    """Move the RenderJob one step; see the module docstring."""
    status: Status = copy.deepcopy(dict(observed.status))
    step = _Step(observed, settings, status)
    if status.get("observedGeneration") != observed.job.generation:
        step.start_generation()
    elif status.get("phase") == "Rendering":
        step.follow_render()
    elif status.get("phase") == "Stitching":
        step.follow_stitch()
    return Decision(step.status, tuple(step.actions))


def now_text(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Step:
    """One reconcile pass: accumulates the new status and the actions."""

    def __init__(self, observed: Observed, settings: Settings, status: Status) -> None:
        self.observed = observed
        self.job = observed.job
        self.settings = settings
        self.layout = Layout(settings.storage_root)
        self.status = status
        self.actions: list[Action] = []
        self.now = now_text(observed.now)

    # --- a new generation ----------------------------------------------------------

    def start_generation(self) -> None:
        self._cancel_running()
        self.status.update(
            observedGeneration=self.job.generation,
            startTime=self.now,
            completionTime=None,
            videoUri=None,
            videoUrl=None,
            videoUrlExpires=None,
            stitch=None,
            estimatedCost=None,
            cost=None,
            tasks=[],
            progress=None,
            execution={"generation": self.job.generation, "attempt": 0},
        )
        try:
            spec = parse_spec(self.observed.spec)
            if spec.stitch_only:
                self._begin_stitch_only(spec)
            else:
                self._begin_render(spec)
        except ChalklineError as err:
            self._fail(err.reason, str(err))

    def _begin_render(self, spec: RenderJobSpec) -> None:
        if self.observed.source_error is not None:
            raise self.observed.source_error
        script = self.observed.script
        assert script is not None, "the controller reads the script of a render job"
        found = discover_scenes(script, filename=self._script_label(spec))
        scenes = select_scenes(found, spec.scenes)
        digest = script_hash(script)
        self.status["execution"]["script"] = digest
        tasks = []
        for index, scene in enumerate(scenes):
            clip = self.layout.clip(self.job, scene, spec.quality, digest)
            done = self.observed.stored.get(clip)
            tasks.append(_task_entry(index, scene, clip, done))
        self.status["tasks"] = tasks
        self._set_phase("Rendering", "Rendering", f"rendering {len(tasks)} scene(s)")
        self._update_progress()
        pending = [t for t in tasks if t["state"] != "Succeeded"]
        if not pending:
            self._begin_stitch(spec)
            return
        reused = len(tasks) - len(pending)
        self._emit(
            "Normal",
            "Rendering",
            f"rendering {len(pending)} of {len(tasks)} scene(s) at {spec.quality} quality"
            + (f"; {reused} unchanged scene(s) re-used" if reused else ""),
        )
        self.actions.append(StageScript(self.layout.script(self.job, digest), script))
        self._launch_render(spec, pending, attempt=0)

    def _begin_stitch_only(self, spec: RenderJobSpec) -> None:
        self._set_phase("Stitching", "Stitching", f"stitching {len(spec.clips)} clip(s)")
        if self.observed.source_error is not None:
            raise self.observed.source_error
        self._launch_stitch(spec, self.observed.clips or ())

    # --- rendering ---------------------------------------------------------------

    def follow_render(self) -> None:
        spec = parse_spec(self.observed.spec)
        report = self.observed.render
        if self._deadline_passed(spec, report):
            return
        execution = self.status.get("execution") or {}
        if report is None or report.phase == "Unknown":
            self._relaunch_lost(spec, report)
            return
        self._merge_tasks(report)
        if report.phase == "Failed":
            # A backend may end a failed execution with tasks cancelled or never run.
            for task in self.status["tasks"]:
                if task["state"] not in ("Succeeded", "Failed"):
                    task.update(state="Failed", message=report.message or "the render failed")
        self._update_progress()
        failed = [t for t in self.status["tasks"] if t["state"] == "Failed"]
        attempt = int(execution.get("attempt", 0))
        if failed and attempt >= spec.retries:
            self._add_usage(report)
            self.actions.append(Cancel(report.handle))
            first = failed[0]
            self._fail("RenderFailed", first.get("message") or f"scene {first['scene']!r} failed")
            return
        rendered = all(t["state"] == "Succeeded" for t in self.status["tasks"])
        if not report.finished or not (failed or report.phase == "Cancelled" or rendered):
            return  # running; or ended with tasks still open (a backend's quirk): look again
        # Every branch below moves past this execution, so its usage is added once.
        self._add_usage(report)
        if failed:
            self._emit(
                "Warning",
                "RetryingTasks",
                f"retrying {len(failed)} failed scene(s), attempt {attempt + 1} of {spec.retries}",
            )
            self._launch_render(spec, failed, attempt=attempt + 1)
        elif report.phase == "Cancelled":
            self._fail("Cancelled", "the render execution was cancelled outside the operator")
        else:
            self._begin_stitch(spec)

    def _relaunch_lost(self, spec: RenderJobSpec, report: ExecutionReport | None) -> None:
        """The execution is gone (operator restart): keep stored clips, redo the rest."""
        for task in self.status["tasks"]:
            stored = self.observed.stored.get(task["clip"])
            if stored is not None:
                entry = _task_entry(task["index"], task["scene"], task["clip"], stored)
                task.update(entry, attempts=task.get("attempts", 0))
            elif task["state"] != "Succeeded":
                task["state"] = "Pending"
        self._update_progress()
        pending = [t for t in self.status["tasks"] if t["state"] != "Succeeded"]
        if not pending:
            self._begin_stitch(spec)
            return
        if report is not None:
            self._emit(
                "Warning",
                "ExecutionLost",
                f"execution {report.handle} is gone; re-rendering {len(pending)} scene(s)",
            )
        attempt = int((self.status.get("execution") or {}).get("attempt", 0))
        self._launch_render(spec, pending, attempt=attempt, relaunch=report is not None)

    def _merge_tasks(self, report: ExecutionReport) -> None:
        by_index = {t.index: t for t in report.tasks}
        total = len(self.status["tasks"])
        for task in self.status["tasks"]:
            news = by_index.get(task["index"])
            if news is None or task["state"] == news.phase:
                continue
            task["state"] = news.phase
            task["seconds"] = news.seconds
            task["message"] = news.message
            if news.phase == "Succeeded":
                done = sum(t["state"] == "Succeeded" for t in self.status["tasks"])
                self._emit(
                    "Normal",
                    "SceneRendered",
                    f"scene {task['scene']} rendered in {news.seconds:.1f} s ({done}/{total})",
                )
                if news.manifest is not None and not news.manifest.has_clip:
                    task["empty"] = True
            elif news.phase == "Failed":
                self._emit("Warning", "SceneFailed", _first_line(news.message))

    def _launch_render(
        self, spec: RenderJobSpec, tasks: list[dict[str, Any]], attempt: int, relaunch: bool = False
    ) -> None:
        execution = self.status.setdefault("execution", {})
        script_uri = self.layout.script(self.job, execution["script"])
        lost = int(execution.get("lost", 0)) + (1 if relaunch else 0)
        execution.update(attempt=attempt, lost=lost, render=None)
        for task in tasks:
            task["state"] = "Pending"
            task["attempts"] = int(task.get("attempts", 0)) + 1
        work = tuple(
            RenderWork(
                index=t["index"],
                scene=t["scene"],
                script_uri=script_uri,
                quality=spec.quality,
                clip_uri=t["clip"],
                cache_key=self.layout.cache_key(self.job),
            )
            for t in tasks
        )
        key = f"{self.job.uid}-g{self.job.generation}-a{attempt}-l{lost}"
        scratch = self.layout.scratch(self.job)
        self.actions.append(LaunchRender(key, work, spec.parallelism, scratch))

    # --- stitching ---------------------------------------------------------------

    def _begin_stitch(self, spec: RenderJobSpec) -> None:
        clips = []
        missing = []
        for task in self.status["tasks"]:
            manifest = self.observed.stored.get(task["clip"])
            if task.get("empty") or (manifest is not None and not manifest.has_clip):
                continue
            if manifest is None:
                missing.append(task)
                continue
            clips.append(ClipStats.from_manifest(task["clip"], manifest))
        if missing:
            # Executors store clip and manifest before reporting a task done, and
            # the controller polls before listing storage: a missing one is gone.
            self._render_missing(spec, missing)
            return
        if not clips:
            empty = InvalidScript(
                "no scene played any animation, so there is nothing to stitch",
                hint="add self.play(...) or self.wait() to a scene's construct()",
            )
            self._fail(empty.reason, str(empty))
            return
        self._set_phase("Stitching", "Stitching", f"stitching {len(clips)} clip(s)")
        self._launch_stitch(spec, tuple(clips))

    def _render_missing(self, spec: RenderJobSpec, missing: list[dict[str, Any]]) -> None:
        self.status["phase"] = "Rendering"
        names = ", ".join(t["scene"] for t in missing)
        self._emit(
            "Warning", "ClipMissing", f"clips of {names} are gone from storage; re-rendering"
        )
        attempt = int((self.status.get("execution") or {}).get("attempt", 0))
        self._launch_render(spec, missing, attempt=attempt, relaunch=True)
        self._update_progress()

    def _launch_stitch(self, spec: RenderJobSpec, clips: tuple[ClipStats, ...]) -> None:
        mode = predicted_mode(clips)
        escalated = (self.status.get("execution") or {}).get("stitchMinimum")
        minimum = escalated or (None if spec.stitch_tier == "auto" else spec.stitch_tier)
        load = StitchLoad(
            clips=len(clips),
            size_bytes=sum(c.size_bytes for c in clips),
            width=max(c.width for c in clips),
            height=max(c.height for c in clips),
            duration_s=sum(c.duration for c in clips),
            mode=mode,
        )
        choice = choose_tier(load, self.settings.tier_table, minimum=minimum)
        self.status["stitch"] = {
            "tier": choice.tier,
            "cpu": choice.cpu,
            "memory": choice.memory,
            "timeoutSeconds": choice.timeout_s,
            "mode": mode,
        }
        self.status["estimatedCost"] = f"{choice.estimated_cost_usd:.6f}"
        execution = self.status.setdefault("execution", {})
        execution["stitch"] = None
        output = spec.output or self.layout.default_output(self.job)
        work = StitchWork(
            clip_uris=tuple(c.uri for c in clips),
            output_uri=output,
            tier=choice.tier,
            timeout_seconds=choice.timeout_s,
            scratch_uri=self.layout.scratch(self.job),
        )
        restarts = int(execution.get("stitchRestarts", 0))
        key = f"{self.job.uid}-g{self.job.generation}-stitch-{restarts}"
        self.actions.append(LaunchStitch(key, work))
        self._emit(
            "Normal",
            "Stitching",
            f"joining {len(clips)} clip(s) on tier {choice.tier} "
            f"({choice.cpu} CPU, {choice.memory}, {mode})",
        )

    def follow_stitch(self) -> None:
        spec = parse_spec(self.observed.spec)
        report = self.observed.stitch
        if self._deadline_passed(spec, report):
            return
        if report is None or report.phase == "Unknown":
            execution = self.status.setdefault("execution", {})
            if report is not None:
                execution["stitchRestarts"] = int(execution.get("stitchRestarts", 0)) + 1
            self._restart_stitch(spec)
            return
        if report.phase == "Running":
            return
        # Succeeded, failed or escalated: every way on leaves this execution behind.
        self._add_usage(report)
        if report.phase == "Succeeded":
            self._succeed(spec, report)
        elif not self._escalate_stitch(spec, report):
            self._fail(report.reason or "StitchFailed", report.message or "the stitch failed")

    def _escalate_stitch(self, spec: RenderJobSpec, report: ExecutionReport) -> bool:
        """A stitch that died of memory or time gets one retry, one tier up."""
        execution = self.status.setdefault("execution", {})
        if report.reason not in ESCALATING_REASONS or execution.get("stitchEscalated"):
            return False
        current = (self.status.get("stitch") or {}).get("tier")
        bigger = next_tier(current, self.settings.tier_table) if current else None
        if bigger is None:
            return False
        execution.update(
            stitchEscalated=True,
            stitchMinimum=bigger,
            stitchRestarts=int(execution.get("stitchRestarts", 0)) + 1,
        )
        what = ESCALATING_REASONS[report.reason]
        self._emit(
            "Warning",
            "StitchEscalated",
            f"the stitch on tier {current} {what}; retrying once on tier {bigger}",
        )
        self._restart_stitch(spec)
        return True

    def _restart_stitch(self, spec: RenderJobSpec) -> None:
        if spec.stitch_only and self.observed.source_error is not None:
            error = self.observed.source_error
            self._fail(error.reason, str(error))
        elif spec.stitch_only:
            self._launch_stitch(spec, self.observed.clips or ())
        else:
            self._begin_stitch(spec)

    def _succeed(self, spec: RenderJobSpec, report: ExecutionReport) -> None:
        output = spec.output or self.layout.default_output(self.job)
        stitch = dict(self.status.get("stitch") or {})
        if "mode" in report.details:
            stitch["mode"] = report.details["mode"]
        self.status.update(
            phase="Succeeded", videoUri=output, completionTime=self.now, stitch=stitch
        )
        duration = report.details.get("duration", "?")
        message = (
            f"video ready at {output} ({float(duration):.1f} s)" if duration != "?" else output
        )
        self._condition("True", "Stitched", message)
        self._emit("Normal", "Succeeded", message)
        if self.settings.signed_url_seconds:
            self.actions.append(SignVideoUrl(output, self.settings.signed_url_seconds))

    # --- shared ------------------------------------------------------------------

    def _deadline_passed(self, spec: RenderJobSpec, current: ExecutionReport | None) -> bool:
        """Past spec.timeoutSeconds: cancel, fail, and count what ``current`` used so far.

        ``current`` is this phase's execution, which no earlier pass has counted.
        """
        start = self.status.get("startTime")
        if spec.timeout_seconds is None or not start:
            return False
        started = datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if (self.observed.now - started).total_seconds() <= spec.timeout_seconds:
            return False
        self._add_usage(current)
        self._cancel_running()
        self._fail(
            "DeadlineExceeded",
            f"not finished within spec.timeoutSeconds ({spec.timeout_seconds} s)",
        )
        return True

    def _cancel_running(self) -> None:
        execution = self.status.get("execution") or {}
        reports = {"render": self.observed.render, "stitch": self.observed.stitch}
        for kind in ("render", "stitch"):
            handle = execution.get(kind)
            report = reports[kind]
            if handle and (report is None or not report.finished):
                self.actions.append(Cancel(handle))

    def _add_usage(self, report: ExecutionReport | None) -> None:
        """Add what an execution used to ``status.cost`` and price the total.

        Called exactly where the reconciler leaves an execution behind (it
        retries, stitches, escalates, succeeds or fails), so each execution
        counts once: the next pass follows another execution, or none. The
        total lives in status only, so a pass whose status write failed is
        recomputed from the old total. Prices are the tier table's, applied to
        the whole total, so ``usd`` always matches ``cpuSeconds`` and ``gibSeconds``.
        """
        if report is None or report.usage is None:
            return
        cost = self.status.get("cost") or {}
        cpu = round(float(cost.get("cpuSeconds", 0)) + report.usage.cpu_seconds, 3)
        gib = round(float(cost.get("gibSeconds", 0)) + report.usage.gib_seconds, 3)
        prices = self.settings.tier_table.prices
        usd = cpu * prices.cpu_second_usd + gib * prices.gib_second_usd
        self.status["cost"] = {"cpuSeconds": cpu, "gibSeconds": gib, "usd": f"{usd:.6f}"}

    def _fail(self, reason: str, message: str) -> None:
        self.status.update(phase="Failed", completionTime=self.now)
        self._condition("False", reason, message)
        self._emit("Warning", reason, message)

    def _set_phase(self, phase: str, reason: str, message: str) -> None:
        self.status["phase"] = phase
        self._condition("Unknown", reason, message)

    def _condition(self, status: Any, reason: str, message: str) -> None:
        self.status["conditions"] = set_condition(
            list(self.status.get("conditions") or []),
            type_=SUCCEEDED,
            status=status,
            reason=reason,
            message=message,
            generation=self.job.generation,
            now=self.now,
        )

    def _update_progress(self) -> None:
        tasks = self.status.get("tasks") or []
        done = sum(t["state"] == "Succeeded" for t in tasks)
        self.status["progress"] = f"{done}/{len(tasks)}"

    def _emit(self, type_: Any, reason: str, message: str) -> None:
        self.actions.append(Emit(type_, reason, message))

    def _script_label(self, spec: RenderJobSpec) -> str:
        source = spec.source
        if source is not None and source.config_map_key_ref is not None:
            ref = source.config_map_key_ref
            return f"configmap/{ref.name}[{ref.key}]"
        if source is not None and source.uri is not None:
            return source.uri
        return f"{self.job.label} spec.source.inline"


def predicted_mode(clips: tuple[ClipStats, ...]) -> Any:
    """Copy when every clip shares size, rate and audio; the stitcher decides for real."""
    shapes = {(c.width, c.height, round(c.fps, 2), c.has_audio) for c in clips}
    return "copy" if len(shapes) == 1 else "reencode"


def _task_entry(index: int, scene: str, clip: str, done: ClipManifest | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "index": index,
        "scene": scene,
        "clip": clip,
        "state": "Succeeded" if done is not None else "Pending",
        "seconds": done.render_seconds if done is not None else 0.0,
        "attempts": 0,
        "message": "",
    }
    if done is not None and not done.has_clip:
        entry["empty"] = True
    return entry


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else "a scene failed"


__all__ = ["ClipStats", "Decision", "Observed", "Settings", "TaskReport", "reconcile"]
