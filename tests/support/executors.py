"""Waiting on an executor's execution, the way the reconciler's polls see it."""

from __future__ import annotations

import time

from chalkline.executors.base import ExecutionReport, Executor


def wait_for(
    executor: Executor, handle: str, phases: set[str], seconds: float = 30, every: float = 0.05
) -> ExecutionReport:
    """Poll ``handle`` until its phase is one of ``phases``; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        report = executor.poll(handle)
        if report.phase in phases:
            return report
        time.sleep(every)
    raise AssertionError(f"{handle} is still {executor.poll(handle).phase}")
