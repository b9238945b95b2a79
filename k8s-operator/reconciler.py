"""The pure heart of the operator: (spec, status, observed) -> (status, actions).

Level-triggered and idempotent, like a controller-runtime ``Reconcile``: it
reads what the executor and storage report, moves the RenderJob one step
toward its spec, and says what to do. It performs no I/O and keeps no memory
beyond ``status``, so a restarted operator continues exactly where the last
one stopped, and every transition is a row in a test table.

It works on typed views: the spec as the controller parsed it, once per pass,
and the status as :class:`~chalkline.operator.status.RenderJobStatus`; the
status becomes a dict again only in the :class:`Decision` it returns.

Phases: Pending -> Rendering -> Stitching -> Succeeded, or Failed from any.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from chalkline.core.errors import ChalklineError, InvalidScript, InvalidSpec
from chalkline.core.layout import JobRef, Layout, script_hash
from chalkline.core.records import ClipManifest
from chalkline.core.scenes import discover_scenes, select_scenes
from chalkline.core.spec import RenderJobSpec
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
from chalkline.operator.conditions import SUCCEEDED, ConditionStatus, set_condition
from chalkline.operator.status import (
    FINAL_PHASES,
    Cost,
    ExecutionStatus,
    RenderJobStatus,
    StitchStatus,
    TaskStatus,
)
from chalkline.stitcher.modes import StitchMode
from chalkline.stitcher.tier_table import load_tier_table
from chalkline.stitcher.tiers import StitchLoad, TierTable, choose_tier, next_tier

#: A status as Kubernetes stores it (see :meth:`RenderJobStatus.to_dict`).
Status = dict[str, Any]
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
    """Everything the reconciler may look at, gathered by the controller.

    ``spec`` is parsed once per pass, by the controller; a spec that does not
    parse is here as the error that says why.
    """

    job: JobRef
    spec: RenderJobSpec | InvalidSpec
    status: RenderJobStatus
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
    #: Where this operator runs tasks; a RenderJob that asks for another is refused.
    backend: str = "local"


@dataclass(frozen=True)
class Decision:
    """The status to write, as its dict, and what to do."""

    status: Status
    actions: tuple[Action, ...] = ()


def reconcile(observed: Observed, settings: Settings) -> Decision:
    """Move the RenderJob one step; see the module docstring."""
    step = _Step(observed, settings)
    if step.status.observed_generation != observed.job.generation:
        step.start_generation()
    elif step.status.phase == "Rendering":
        step.follow_render()
    elif step.status.phase == "Stitching":
        step.follow_stitch()
    return Decision(step.status.to_dict(), tuple(step.actions))


def now_text(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Step:
    """One reconcile pass: accumulates the new status and the actions."""

    def __init__(self, observed: Observed, settings: Settings) -> None:
        self.observed = observed
        self.job = observed.job
        self.settings = settings
        self.layout = Layout(settings.storage_root)
        self.status = copy.deepcopy(observed.status)
        self.actions: list[Action] = []
        self.now = now_text(observed.now)

    @property
    def execution(self) -> ExecutionStatus:
        return self.status.execution

    def spec(self) -> RenderJobSpec:
        """The parsed spec; one that did not parse is raised, as parsing it would."""
        if isinstance(self.observed.spec, InvalidSpec):
            raise self.observed.spec
        return self.observed.spec

    # --- a new generation ----------------------------------------------------------

    def start_generation(self) -> None:
        self._cancel_running()
        status, generation = self.status, self.job.generation
        status.observed_generation = generation
        status.start_time = self.now
        # None is written as null: the merge patch removes what the last generation wrote.
        status.completion_time = None
        status.video_uri = None
        status.video_url = None
        status.video_url_expires = None
        status.stitch = None
        status.estimated_cost = None
        status.cost = None
        status.tasks = []
        status.progress = None
        status.execution = ExecutionStatus(generation=generation, attempt=0)
        try:
            spec = self.spec()
            self._check_backend(spec)
            if spec.stitch_only:
                self._begin_stitch_only(spec)
            else:
                self._begin_render(spec)
        except ChalklineError as err:
            self._fail(err.reason, str(err))

    def _check_backend(self, spec: RenderJobSpec) -> None:
        """One operator runs one backend: running a job elsewhere than it asked would
        break what its author relied on (a bill, an isolation, a place of the data)."""
        if spec.backend is not None and spec.backend != self.settings.backend:
            raise InvalidSpec(
                f"spec.backend is {spec.backend!r}, but this operator runs the "
                f"{self.settings.backend!r} backend",
                hint="remove spec.backend to use the operator's, or apply the RenderJob where "
                f"an operator runs {spec.backend!r}",
            )

    def _begin_render(self, spec: RenderJobSpec) -> None:
        if self.observed.source_error is not None:
            raise self.observed.source_error
        script = self.observed.script
        assert script is not None, "the controller reads the script of a render job"
        found = discover_scenes(script, filename=self._script_label(spec))
        scenes = select_scenes(found, spec.scenes)
        digest = script_hash(script)
        self.execution.script = digest
        tasks = []
        for index, scene in enumerate(scenes):
            clip = self.layout.clip(self.job, scene, spec.quality, digest)
            tasks.append(_new_task(index, scene, clip, self.observed.stored.get(clip)))
        self.status.tasks = tasks
        self._set_phase("Rendering", "Rendering", f"rendering {len(tasks)} scene(s)")
        self._update_progress()
        pending = [t for t in tasks if t.state != "Succeeded"]
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
        spec = self.spec()
        report = self.observed.render
        if self._deadline_passed(spec, report):
            return
        if report is None or report.phase == "Unknown":
            self._relaunch_lost(spec, report)
            return
        self._merge_tasks(report)
        tasks = self.status.tasks
        if report.phase == "Failed":
            # A backend may end a failed execution with tasks cancelled or never run.
            for task in tasks:
                if task.state not in ("Succeeded", "Failed"):
                    task.state = "Failed"
                    task.message = report.message or "the render failed"
        self._update_progress()
        failed = [t for t in tasks if t.state == "Failed"]
        attempt = self.execution.attempt
        if failed and attempt >= spec.retries:
            self._add_usage(report)
            self.actions.append(Cancel(report.handle))
            first = failed[0]
            self._fail("RenderFailed", first.message or f"scene {first.scene!r} failed")
            return
        rendered = all(t.state == "Succeeded" for t in tasks)
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
        for task in self.status.tasks:
            stored = self.observed.stored.get(task.clip)
            if stored is not None:
                _mark_stored(task, stored)
            elif task.state != "Succeeded":
                task.state = "Pending"
        self._update_progress()
        pending = [t for t in self.status.tasks if t.state != "Succeeded"]
        if not pending:
            self._begin_stitch(spec)
            return
        if report is not None:
            self._emit(
                "Warning",
                "ExecutionLost",
                f"execution {report.handle} is gone; re-rendering {len(pending)} scene(s)",
            )
        attempt = self.execution.attempt
        self._launch_render(spec, pending, attempt=attempt, relaunch=report is not None)

    def _merge_tasks(self, report: ExecutionReport) -> None:
        by_index = {t.index: t for t in report.tasks}
        tasks = self.status.tasks
        for task in tasks:
            news = by_index.get(task.index)
            if news is None or task.state == news.phase:
                continue
            task.state = news.phase
            task.seconds = news.seconds
            task.message = news.message
            if news.phase == "Succeeded":
                done = sum(t.state == "Succeeded" for t in tasks)
                self._emit(
                    "Normal",
                    "SceneRendered",
                    f"scene {task.scene} rendered in {news.seconds:.1f} s ({done}/{len(tasks)})",
                )
                if news.manifest is not None and not news.manifest.has_clip:
                    task.empty = True
            elif news.phase == "Failed":
                self._emit("Warning", "SceneFailed", _first_line(news.message))

    def _launch_render(
        self, spec: RenderJobSpec, tasks: list[TaskStatus], attempt: int, relaunch: bool = False
    ) -> None:
        execution = self.execution
        assert execution.script is not None, "a render job's script is staged before its launch"
        script_uri = self.layout.script(self.job, execution.script)
        lost = execution.lost + (1 if relaunch else 0)
        execution.attempt = attempt
        execution.lost = lost
        execution.render = None  # the controller records the launch's handle
        for task in tasks:
            task.state = "Pending"
            task.attempts += 1
        work = tuple(
            RenderWork(
                index=t.index,
                scene=t.scene,
                script_uri=script_uri,
                quality=spec.quality,
                clip_uri=t.clip,
                cache_key=self.layout.cache_key(self.job),
            )
            for t in tasks
        )
        key = f"{self.job.uid}-g{self.job.generation}-a{attempt}-l{lost}"
        scratch = self.layout.scratch(self.job)
        self.actions.append(LaunchRender(key, work, spec.parallelism, scratch, self.job))

    # --- stitching ---------------------------------------------------------------

    def _begin_stitch(self, spec: RenderJobSpec) -> None:
        clips = []
        missing = []
        for task in self.status.tasks:
            manifest = self.observed.stored.get(task.clip)
            if task.empty or (manifest is not None and not manifest.has_clip):
                continue
            if manifest is None:
                missing.append(task)
                continue
            clips.append(ClipStats.from_manifest(task.clip, manifest))
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

    def _render_missing(self, spec: RenderJobSpec, missing: list[TaskStatus]) -> None:
        self.status.phase = "Rendering"
        names = ", ".join(t.scene for t in missing)
        self._emit(
            "Warning", "ClipMissing", f"clips of {names} are gone from storage; re-rendering"
        )
        attempt = self.execution.attempt
        self._launch_render(spec, missing, attempt=attempt, relaunch=True)
        self._update_progress()

    def _launch_stitch(self, spec: RenderJobSpec, clips: tuple[ClipStats, ...]) -> None:
        mode = predicted_mode(clips)
        escalated = self.execution.stitch_minimum
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
        self.status.stitch = StitchStatus(
            tier=choice.tier,
            cpu=choice.cpu,
            memory=choice.memory,
            timeout_seconds=choice.timeout_s,
            mode=mode,
        )
        self.status.estimated_cost = f"{choice.estimated_cost_usd:.6f}"
        self.execution.stitch = None  # the controller records the launch's handle
        output = spec.output or self.layout.default_output(self.job)
        work = StitchWork(
            clip_uris=tuple(c.uri for c in clips),
            output_uri=output,
            tier=choice.tier,
            timeout_seconds=choice.timeout_s,
            scratch_uri=self.layout.scratch(self.job),
        )
        key = f"{self.job.uid}-g{self.job.generation}-stitch-{self.execution.stitch_restarts}"
        self.actions.append(LaunchStitch(key, work, self.job))
        self._emit(
            "Normal",
            "Stitching",
            f"joining {len(clips)} clip(s) on tier {choice.tier} "
            f"({choice.cpu} CPU, {choice.memory}, {mode})",
        )

    def follow_stitch(self) -> None:
        spec = self.spec()
        report = self.observed.stitch
        if self._deadline_passed(spec, report):
            return
        if report is None or report.phase == "Unknown":
            if report is not None:
                self.execution.stitch_restarts += 1
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
        execution = self.execution
        if report.reason not in ESCALATING_REASONS or execution.stitch_escalated:
            return False
        current = self.status.stitch.tier if self.status.stitch is not None else None
        bigger = next_tier(current, self.settings.tier_table) if current else None
        if bigger is None:
            return False
        execution.stitch_escalated = True
        execution.stitch_minimum = bigger
        execution.stitch_restarts += 1
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
        if self.status.stitch is not None and "mode" in report.details:
            self.status.stitch.mode = report.details["mode"]  # what the stitcher did
        self.status.phase = "Succeeded"
        self.status.video_uri = output
        self.status.completion_time = self.now
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
        start = self.status.start_time
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
        running = (
            (self.execution.render, self.observed.render),
            (self.execution.stitch, self.observed.stitch),
        )
        for handle, report in running:
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
        cost = self.status.cost or Cost(cpu_seconds=0.0, gib_seconds=0.0, usd="0")
        cpu = round(cost.cpu_seconds + report.usage.cpu_seconds, 3)
        gib = round(cost.gib_seconds + report.usage.gib_seconds, 3)
        prices = self.settings.tier_table.prices
        usd = cpu * prices.cpu_second_usd + gib * prices.gib_second_usd
        self.status.cost = Cost(cpu_seconds=cpu, gib_seconds=gib, usd=f"{usd:.6f}")

    def _fail(self, reason: str, message: str) -> None:
        self.status.phase = "Failed"
        self.status.completion_time = self.now
        self._condition("False", reason, message)
        self._emit("Warning", reason, message)

    def _set_phase(self, phase: str, reason: str, message: str) -> None:
        self.status.phase = phase
        self._condition("Unknown", reason, message)

    def _condition(self, status: ConditionStatus, reason: str, message: str) -> None:
        self.status.conditions = set_condition(
            list(self.status.conditions),
            type_=SUCCEEDED,
            status=status,
            reason=reason,
            message=message,
            generation=self.job.generation,
            now=self.now,
        )

    def _update_progress(self) -> None:
        tasks = self.status.tasks
        done = sum(t.state == "Succeeded" for t in tasks)
        self.status.progress = f"{done}/{len(tasks)}"

    def _emit(self, type_: Literal["Normal", "Warning"], reason: str, message: str) -> None:
        self.actions.append(Emit(type_, reason, message))

    def _script_label(self, spec: RenderJobSpec) -> str:
        source = spec.source
        if source is not None and source.config_map_key_ref is not None:
            ref = source.config_map_key_ref
            return f"configmap/{ref.name}[{ref.key}]"
        if source is not None and source.uri is not None:
            return source.uri
        return f"{self.job.label} spec.source.inline"


def predicted_mode(clips: tuple[ClipStats, ...]) -> StitchMode:
    """Copy when every clip shares size, rate and audio; the stitcher decides for real."""
    shapes = {(c.width, c.height, round(c.fps, 2), c.has_audio) for c in clips}
    return "copy" if len(shapes) == 1 else "reencode"


def _new_task(index: int, scene: str, clip: str, stored: ClipManifest | None) -> TaskStatus:
    task = TaskStatus(index, scene, clip, state="Pending", seconds=0.0, attempts=0, message="")
    if stored is not None:
        _mark_stored(task, stored)
    return task


def _mark_stored(task: TaskStatus, manifest: ClipManifest) -> None:
    """The clip of ``task`` is in storage (maybe from an earlier generation): it is done."""
    task.state = "Succeeded"
    task.seconds = manifest.render_seconds
    task.message = ""
    if not manifest.has_clip:
        task.empty = True


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else "a scene failed"


__all__ = [
    "FINAL_PHASES",
    "ClipStats",
    "Decision",
    "Observed",
    "Settings",
    "Status",
    "TaskReport",
    "reconcile",
]
