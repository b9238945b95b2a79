"""The ``cloudrun`` executor: one Cloud Run Job execution per launch, N tasks each.

A render is one execution of the quality's render Job with ``task_count`` =
number of scenes; task *i* reads ``CLOUD_RUN_TASK_INDEX`` and does
``plan.tasks[i]`` of the plan written to the job's scratch folder (its URI goes in the
``CHALKLINE_PLAN`` env override). A stitch is one task of its tier's Job, with
a stitch order instead of a plan. The handle is the execution's full name,
which the run operation's metadata carries at once.

Nothing lives only in this process's memory. The execution carries the launch
key in its env overrides (``CHALKLINE_KEY``), and the plan's URI, so after a
restart a launch finds its execution instead of starting a second one, and a
poll maps task indexes back to work by reading the plan. (Cloud Run gives an
execution only its Job template's labels, and ListExecutions has no filter,
so the key cannot be a label and finding it means listing the Job's executions.)

Per-execution overrides cannot change parallelism (nor CPU or memory): it is
the Job's, ``CloudRunConfig.parallelism``, and ``launch_render``'s argument is
not applied.

The clients are the synchronous ones: ``JobsAsyncClient`` with the REST
transport is broken. Callers on an event loop run these methods in a thread.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from google.api_core import exceptions as api
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import run_v2

from chalkline.core.errors import InvalidSpec
from chalkline.core.layout import (
    JobRef,
    manifest_uri,
    render_plan_uri,
    stitch_order_uri,
    stitch_result_uri,
)
from chalkline.core.records import (
    KEY_ENV,
    PLAN_ENV,
    PlannedScene,
    RenderPlan,
    StitchOrder,
    read_stitch_result,
    write_plan,
)
from chalkline.executors.base import (
    ExecutionPhase,
    ExecutionReport,
    RenderWork,
    StitchWork,
    TaskPhase,
    TaskReport,
    Usage,
)
from chalkline.executors.cloudrun_jobs import (
    CloudRunConfig,
    Resources,
    desired_jobs,
    fields_that_differ,
)
from chalkline.executors.planned_outputs import PlannedOutputs, render_plan_of
from chalkline.storage.base import Storage

MAX_POLL_INTERVAL_S = 300.0
OPERATION_TIMEOUT_S = 120.0
#: Cloud Run bills a task's instance time in steps of 100 ms, rounded up.
BILLING_STEP_S = 0.1
logger = logging.getLogger(__name__)

_Condition = run_v2.Condition
_SUCCEEDED = _Condition.State.CONDITION_SUCCEEDED
_FAILED = _Condition.State.CONDITION_FAILED
_CANCELLED = _Condition.ExecutionReason.CANCELLED


@dataclass
class _Polled:
    """The last report of one execution, and when the API may be asked again."""

    report: ExecutionReport
    next_at: float
    interval: float


class CloudRunExecutor:
    """Runs renders and stitches as Cloud Run Job executions; see the module docstring."""

    name = "cloudrun"

    def __init__(
        self,
        storage: Storage,
        config: CloudRunConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        self.config = config
        self._clock = clock
        options, credentials = _client_settings(config.endpoint)
        settings: dict[str, Any] = {
            "transport": "rest",
            "client_options": options,
            "credentials": credentials,
        }
        self.jobs = run_v2.JobsClient(**settings)
        self.executions = run_v2.ExecutionsClient(**settings)
        self.tasks = run_v2.TasksClient(**settings)
        self._lock = threading.Lock()
        self._launched: dict[str, str] = {}
        self._polled: dict[str, _Polled] = {}
        self._outputs = PlannedOutputs(storage)

    # --- Job definitions ----------------------------------------------------------

    def ensure_jobs(self) -> dict[str, str]:
        """Create or update every Job we own; return ``{job id: created|updated|unchanged}``.

        A Job is written only when one of the fields we set differs, so calling
        this on every start costs one read per Job and changes nothing.
        """
        outcome: dict[str, str] = {}
        for job_id, desired in desired_jobs(self.config).items():
            name = self.config.job_path(job_id)
            try:
                actual = self.jobs.get_job(name=name)
            except api.NotFound:
                operation = self.jobs.create_job(
                    parent=self.config.parent, job=desired, job_id=job_id
                )
                operation.result(timeout=OPERATION_TIMEOUT_S)  # type: ignore[no-untyped-call]
                outcome[job_id] = "created"
                continue
            changed = fields_that_differ(desired, actual)
            if not changed:
                outcome[job_id] = "unchanged"
                continue
            logger.info("updating Cloud Run job %s: %s changed", job_id, ", ".join(changed))
            desired.name = name
            operation = self.jobs.update_job(job=desired)
            operation.result(timeout=OPERATION_TIMEOUT_S)  # type: ignore[no-untyped-call]
            outcome[job_id] = "updated"
        return outcome

    # --- the Executor contract ------------------------------------------------------

    def launch_render(
        self,
        key: str,
        work: list[RenderWork],
        parallelism: int,
        *,
        scratch_uri: str,
        owner: JobRef | None = None,
    ) -> str:
        plan = render_plan_of(work, "Cloud Run execution")
        quality = plan.quality
        if quality not in self.config.render_resources:
            raise InvalidSpec(
                f"no Cloud Run render job for quality {quality!r}",
                hint="add it to the cloudrun render resources (docs/configuration.md)",
            )
        job = self.config.job_path(self.config.render_job_name(quality))
        found = self._find(job, key)
        if found is not None:
            return found
        plan_uri = render_plan_uri(scratch_uri, key)
        write_plan(self.storage, plan_uri, plan)
        return self._run(key, job, plan_uri, task_count=len(work), timeout_s=None)

    def launch_stitch(self, key: str, work: StitchWork, *, owner: JobRef | None = None) -> str:
        if work.tier == "auto":
            raise InvalidSpec("a stitch must be given its tier before it is launched")
        job = self.config.job_path(self.config.stitch_job_name(work.tier))
        found = self._find(job, key)
        if found is not None:
            return found
        result_uri = stitch_result_uri(work.scratch_uri, key)
        order = StitchOrder(work.clip_uris, work.output_uri, result=result_uri)
        order_uri = stitch_order_uri(work.scratch_uri, key)
        write_plan(self.storage, order_uri, order)
        return self._run(key, job, order_uri, task_count=1, timeout_s=work.timeout_seconds)

    def poll(self, handle: str) -> ExecutionReport:
        """What the execution is doing; the API is asked at most every ``poll_interval_s``.

        A 429 (the Admin API's read quota) doubles the interval for this
        execution and answers with the last report.
        """
        now = self._clock()
        with self._lock:
            polled = self._polled.get(handle)
        if polled is not None and (polled.report.finished or now < polled.next_at):
            return polled.report
        try:
            execution = self.executions.get_execution(name=handle)
            tasks = list(self.tasks.list_tasks(parent=handle))
            report = self._report(execution, tasks)
        except api.NotFound:
            return ExecutionReport(handle, "Unknown", message="Cloud Run has no such execution")
        except api.TooManyRequests:
            return self._throttled(handle, polled, now)
        with self._lock:
            interval = self.config.poll_interval_s
            self._polled[handle] = _Polled(report, now + interval, interval)
        return report

    def cancel(self, handle: str) -> None:
        with contextlib.suppress(api.NotFound, api.FailedPrecondition):  # gone, or finished
            self.executions.cancel_execution(name=handle)
        with self._lock:
            self._polled.pop(handle, None)

    def release(self, handle: str) -> None:
        """Nothing to remove: Cloud Run keeps an execution's history itself."""
        with self._lock:
            self._outputs.forget(handle)

    def close(self) -> None:
        for client in (self.jobs, self.executions, self.tasks):
            client.transport.close()  # type: ignore[no-untyped-call]

    # --- launching ----------------------------------------------------------------

    def _find(self, job: str, key: str) -> str | None:
        """The execution of ``job`` launched with ``key``, if any (after a restart too)."""
        with self._lock:
            if key in self._launched:
                return self._launched[key]
        try:
            executions = self.executions.list_executions(parent=job)
            for execution in executions:
                if _env(execution).get(KEY_ENV) == key:
                    with self._lock:
                        self._launched[key] = execution.name
                    return str(execution.name)
        except api.NotFound:
            raise InvalidSpec(
                f"Cloud Run job {job} does not exist",
                hint="the operator creates its jobs at start (ensure_jobs); check the project "
                "and region",
            ) from None
        return None

    def _run(
        self, key: str, job: str, plan_uri: str, task_count: int, timeout_s: int | None
    ) -> str:
        Overrides = run_v2.RunJobRequest.Overrides
        overrides = Overrides(
            container_overrides=[
                Overrides.ContainerOverride(
                    env=[
                        run_v2.EnvVar(name=PLAN_ENV, value=plan_uri),
                        run_v2.EnvVar(name=KEY_ENV, value=key),
                    ]
                )
            ],
            task_count=task_count,
        )
        if timeout_s is not None:
            overrides.timeout = f"{timeout_s}s"
        operation = self.jobs.run_job(request=run_v2.RunJobRequest(name=job, overrides=overrides))
        handle = str(operation.metadata.name)
        with self._lock:
            self._launched[key] = handle
        return handle

    # --- reports ------------------------------------------------------------------

    def _report(self, execution: run_v2.Execution, tasks: list[run_v2.Task]) -> ExecutionReport:
        handle = str(execution.name)
        phase = _execution_phase(execution)
        plan = self._plan(handle, _env(execution).get(PLAN_ENV, ""))
        completed = _completed(execution.conditions)
        message = completed.message if completed is not None and phase == "Failed" else ""
        usage = _usage(execution, tasks, datetime.now(UTC))
        if isinstance(plan, StitchOrder):
            return replace(self._stitch_report(handle, phase, message, plan, tasks), usage=usage)
        by_index = {task.index: task for task in tasks}
        reports = tuple(
            self._task_report(handle, position, planned, by_index.get(position))
            for position, planned in enumerate(plan.tasks)
        )
        reason = "RenderFailed" if phase == "Failed" else ""
        return ExecutionReport(handle, phase, reports, message=message, reason=reason, usage=usage)

    def _task_report(
        self, handle: str, position: int, planned: PlannedScene, task: run_v2.Task | None
    ) -> TaskReport:
        if task is None:
            return TaskReport(planned.index, "Pending")
        phase = _task_phase(task)
        seconds = _seconds(task)
        if phase == "Failed":
            message = _task_message(task, self._outputs.failure(planned.clip))
            return TaskReport(planned.index, phase, seconds, message)
        if phase != "Succeeded":
            return TaskReport(planned.index, phase, seconds)
        manifest = self._outputs.manifest(handle, position, planned.clip)
        if manifest is None:
            message = f"the task succeeded but left no manifest at {manifest_uri(planned.clip)}"
            return TaskReport(planned.index, "Failed", seconds, message)
        return TaskReport(planned.index, phase, seconds, manifest=manifest)

    def _stitch_report(
        self,
        handle: str,
        phase: ExecutionPhase,
        message: str,
        order: StitchOrder,
        tasks: list[run_v2.Task],
    ) -> ExecutionReport:
        if phase == "Failed":
            task = tasks[0] if tasks else None
            death = _death(task) if task is not None else ""
            reason = f"Stitch{death}" if death else "StitchFailed"
            detail = _task_message(task) if task is not None else message
            return ExecutionReport(handle, phase, message=detail or message, reason=reason)
        if phase != "Succeeded":
            return ExecutionReport(handle, phase)
        try:
            details = read_stitch_result(self.storage, order.result)
        except Exception as err:  # missing or unreadable: the stitch did not report
            message = f"the stitch succeeded but its result {order.result} is unreadable: {err}"
            return ExecutionReport(handle, "Failed", message=message, reason="StitchFailed")
        return ExecutionReport(handle, phase, details=details)

    def _plan(self, handle: str, uri: str) -> RenderPlan | StitchOrder:
        if not uri:
            raise InvalidSpec(f"execution {handle} has no {PLAN_ENV}: not launched by chalkline")
        return self._outputs.plan(handle, uri)

    def _throttled(self, handle: str, polled: _Polled | None, now: float) -> ExecutionReport:
        interval = min(
            (polled.interval if polled else self.config.poll_interval_s) * 2, MAX_POLL_INTERVAL_S
        )
        report = (
            polled.report
            if polled is not None
            else ExecutionReport(handle, "Running", message="waiting for the Cloud Run API quota")
        )
        logger.warning("Cloud Run API quota exhausted; polling %s every %.0f s", handle, interval)
        with self._lock:
            self._polled[handle] = _Polled(report, now + interval, interval)
        return report


def _client_settings(endpoint: str | None) -> tuple[dict[str, str] | None, Credentials | None]:
    """Client options and credentials: Google with ADC, or an emulator anonymously."""
    if endpoint is None:
        return None, None
    if endpoint.startswith("http://"):
        return {"api_endpoint": endpoint}, AnonymousCredentials()  # type: ignore[no-untyped-call,unused-ignore]
    return {"api_endpoint": endpoint}, None


def _env(execution: run_v2.Execution) -> dict[str, str]:
    containers = execution.template.containers
    return {e.name: e.value for e in containers[0].env} if containers else {}


def _completed(conditions: Any) -> run_v2.Condition | None:
    for condition in conditions:
        if condition.type_ == "Completed":
            return condition  # type: ignore[no-any-return]
    return None


def _execution_phase(execution: run_v2.Execution) -> ExecutionPhase:
    return _finished_phase(execution.conditions) or "Running"


def _task_phase(task: run_v2.Task) -> TaskPhase:
    return _finished_phase(task.conditions) or ("Running" if task.start_time else "Pending")


def _finished_phase(conditions: Any) -> Literal["Succeeded", "Failed", "Cancelled"] | None:
    """How an execution or task ended, from its ``Completed`` condition; None if it has not."""
    completed = _completed(conditions)
    if completed is not None and completed.state == _SUCCEEDED:
        return "Succeeded"
    if completed is not None and completed.state == _FAILED:
        return "Cancelled" if completed.execution_reason == _CANCELLED else "Failed"
    return None


def _task_message(task: run_v2.Task, said: str = "") -> str:
    """The worker's own error when it left one, else Cloud Run's; and how the task ended."""
    result = task.last_attempt_result
    message = said or result.status.message or "the task failed"
    return f"{message} (exit code {result.exit_code}, {task.retried} retries)"


def _death(task: run_v2.Task) -> str:
    """``OutOfMemory`` or ``TimedOut`` when that is how the task's last attempt ended."""
    message = task.last_attempt_result.status.message.lower()
    if "memory limit" in message or task.last_attempt_result.exit_code == 137:
        return "OutOfMemory"
    if "timeout" in message or "timed out" in message:
        return "TimedOut"
    return ""


def _usage(execution: run_v2.Execution, tasks: list[run_v2.Task], now: datetime) -> Usage | None:
    """The vCPU- and GiB-seconds the execution's tasks were billed for, as far as the API shows.

    Cloud Run bills a job task for the time its instance runs, rounded up to
    100 ms, at its container's CPU and memory limits (read from the task, else
    from the execution's template: what the execution ran with, even if the
    Job changed since). The Task resource shows one start and one completion
    time, so the figure is an estimate:

    - a retried task's earlier attempts are not visible in the Task resource:
      depending on which attempt its ``start_time`` names, they are missed, or
      counted together with the pause between attempts;
    - a task still running counts up to ``now``: an execution that is
      abandoned (cancelled after a scene failed, or at the deadline) is never
      observed again, and this is the last word on it;
    - instance start-up before the container runs is not shown, so not counted.

    None when a container's limits cannot be read, rather than a wrong figure.
    """
    cpu_seconds = gib_seconds = 0.0
    for task in tasks:
        containers = task.containers or execution.template.containers
        resources = Resources.of(containers[0]) if containers else None
        if resources is None:
            return None
        seconds = _billed_seconds(task, now)
        cpu_seconds += seconds * resources.vcpus
        gib_seconds += seconds * resources.gib
    return Usage(round(cpu_seconds, 3), round(gib_seconds, 3))


def _billed_seconds(task: run_v2.Task, now: datetime) -> float:
    """Start to completion (or ``now``), rounded up to Cloud Run's 100 ms billing step."""
    if not task.start_time:
        return 0.0
    end = task.completion_time or now
    seconds = max(0.0, float((end - task.start_time).total_seconds()))
    # round() first: 0.3 s must stay 3 steps, not become 4 through 3.0000000004.
    return math.ceil(round(seconds / BILLING_STEP_S, 6)) * BILLING_STEP_S


def _seconds(task: run_v2.Task) -> float:
    if not task.start_time:
        return 0.0
    end = task.completion_time
    if not end:
        return 0.0
    return round(float((end - task.start_time).total_seconds()), 3)
