"""One fake execution: its tasks run as local processes, the way Cloud Run runs containers.

Each task is the Job template's container ``command + args`` (after the run's
overrides) started with the environment Cloud Run gives a task
(``CLOUD_RUN_TASK_INDEX``, ``_ATTEMPT``, ``_COUNT``, ``CLOUD_RUN_EXECUTION``,
``CLOUD_RUN_JOB``) on top of this machine's, so a ``chalkline`` or ``python``
on PATH is found. At most ``parallelism`` tasks run at once; a failed attempt
is retried up to ``max_retries`` times; an attempt past the task timeout is
killed. Faults stand in for what a test cannot provoke for real: a failing
container, the memory killer, a hang.

The messages follow Cloud Run's where they are known ("Memory limit of ...
exceeded", exit code 137); they are a model, not a transcript.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

FaultKind = Literal["fail", "oom", "hang"]
TaskState = Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
FINAL: frozenset[str] = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
TICK = 0.05

_STAND_INS: dict[FaultKind, str] = {
    "fail": "import sys; print('injected failure', file=sys.stderr); sys.exit(3)",
    "oom": "import os, signal, time; time.sleep(0.2); os.kill(os.getpid(), signal.SIGKILL)",
    "hang": "import time; time.sleep(3600)",
}


@dataclass(frozen=True)
class Fault:
    """Replace task ``index``'s container with a stand-in for its first ``attempts`` tries."""

    kind: FaultKind
    attempts: int | None = None  # None: every attempt

    def applies(self, attempt: int) -> bool:
        return self.attempts is None or attempt < self.attempts


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class FakeTask:
    """One task's state; ``attempt`` counts attempts started (the env var is ``attempt - 1``)."""

    index: int
    state: TaskState = "PENDING"
    attempt: int = 0
    retried: int = 0
    exit_code: int | None = None
    message: str = ""
    start_time: str | None = None
    completion_time: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started: float = 0.0
    fault: Fault | None = None
    running_fault: FaultKind | None = None


@dataclass(frozen=True)
class RunSpec:
    """What an execution runs, with the run's overrides already applied."""

    execution: str
    job: str
    command: tuple[str, ...]
    env: dict[str, str]
    task_count: int
    parallelism: int
    max_retries: int
    timeout_s: float
    memory: str


class ExecutionRun:
    """Runs the tasks of one execution in a thread until they are all final."""

    def __init__(self, spec: RunSpec, faults: dict[int, Fault], logs: Path) -> None:
        self.spec = spec
        self.tasks = [FakeTask(i, fault=faults.get(i)) for i in range(spec.task_count)]
        self.logs = logs
        self.lock = threading.Lock()
        self.cancelling = False
        self.start_time = now_rfc3339()
        self.completion_time: str | None = None
        self._thread = threading.Thread(target=self._run, name=spec.execution, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        with self.lock:
            self.cancelling = True

    def join(self, timeout: float = 10) -> None:
        self._thread.join(timeout)

    @property
    def finished(self) -> bool:
        return self.completion_time is not None

    # --- the loop -------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self.lock:
                    if self.cancelling:
                        self._cancel_all()
                    else:
                        self._check_running()
                        self._start_pending()
                    if all(task.state in FINAL for task in self.tasks):
                        self.completion_time = now_rfc3339()
                        return
                time.sleep(TICK)
        finally:
            with self.lock:
                self._cancel_all()  # nothing outlives its execution, even on an error here
                self.completion_time = self.completion_time or now_rfc3339()

    def _start_pending(self) -> None:
        limit = self.spec.parallelism or self.spec.task_count
        running = sum(task.state == "RUNNING" for task in self.tasks)
        for task in self.tasks:
            if running >= limit:
                return
            if task.state == "PENDING":
                self._start(task)
                running += 1

    def _start(self, task: FakeTask) -> None:
        fault = task.fault if task.fault and task.fault.applies(task.attempt) else None
        command = [sys.executable, "-c", _STAND_INS[fault.kind]] if fault else self.spec.command
        env = {
            **os.environ,
            **self.spec.env,
            "CLOUD_RUN_TASK_INDEX": str(task.index),
            "CLOUD_RUN_TASK_ATTEMPT": str(task.attempt),
            "CLOUD_RUN_TASK_COUNT": str(self.spec.task_count),
            "CLOUD_RUN_EXECUTION": self.spec.execution.rsplit("/", 1)[-1],
            "CLOUD_RUN_JOB": self.spec.job.rsplit("/", 1)[-1],
        }
        log = self.logs / f"task{task.index}-attempt{task.attempt}.log"
        with log.open("wb") as out:
            task.process = subprocess.Popen(
                list(command),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # so a kill takes the task's children too
            )
        task.state = "RUNNING"
        task.started = time.monotonic()
        task.start_time = task.start_time or now_rfc3339()
        task.attempt += 1
        task.running_fault = fault.kind if fault else None

    def _check_running(self) -> None:
        for task in self.tasks:
            if task.state != "RUNNING" or task.process is None:
                continue
            code = task.process.poll()
            if code is None and time.monotonic() - task.started > self.spec.timeout_s:
                _kill(task.process)
                self._attempt_failed(task, 124, "The configured timeout was reached.")
            elif code == 0:
                task.state, task.exit_code, task.message = "SUCCEEDED", 0, ""
                task.completion_time = now_rfc3339()
            elif code is not None:
                self._attempt_failed(task, *self._failure(task, code))

    def _failure(self, task: FakeTask, code: int) -> tuple[int, str]:
        if code == -signal.SIGKILL and task.running_fault == "oom":
            limit = _mib(self.spec.memory)
            return 137, (
                f"Memory limit of {limit} MiB exceeded with {limit + 17} MiB used. "
                "Consider increasing the memory limit, see "
                "https://cloud.google.com/run/docs/configuring/memory-limits"
            )
        exit_code = 128 - code if code < 0 else code
        return exit_code, f"The container exited with an error (exit code {exit_code})."

    def _attempt_failed(self, task: FakeTask, exit_code: int, message: str) -> None:
        task.process = None
        task.exit_code, task.message = exit_code, message
        if task.attempt <= self.spec.max_retries:
            task.state = "PENDING"
            task.retried += 1
        else:
            task.state = "FAILED"
            task.completion_time = now_rfc3339()

    def _cancel_all(self) -> None:
        for task in self.tasks:
            if task.state in FINAL:
                continue
            if task.process is not None:
                _kill(task.process)
                task.process = None
            task.state, task.message = "CANCELLED", "Cancelled by the user."
            task.completion_time = now_rfc3339()


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the task's whole process group and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _mib(memory: str) -> int:
    units = {"Gi": 1024, "Mi": 1, "G": 1000**3 / 2**20, "M": 1000**2 / 2**20}
    for suffix, factor in units.items():
        if memory.endswith(suffix):
            return int(float(memory.removesuffix(suffix)) * factor)
    return 512
