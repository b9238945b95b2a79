"""Render work for executor tests, and waiting on an execution as the reconciler's polls see it."""

from __future__ import annotations

import time

from chalkline.core.layout import clip_name
from chalkline.executors.base import ExecutionReport, Executor, RenderWork
from chalkline.storage import Storage


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


def render_work(storage: Storage, *scenes: str) -> list[RenderWork]:
    """One task per scene of ``job/script.py``, its clip where the layout would name it."""
    return [
        RenderWork(
            index=i,
            scene=scene,
            script_uri=storage.join("job", "script.py"),
            quality="low",
            clip_uri=storage.join("job", "clips", clip_name(scene, "low", "d")),
            cache_key="job",
        )
        for i, scene in enumerate(scenes)
    ]


def scratch_of(storage: Storage) -> str:
    """The scratch folder :func:`render_work`'s job gives its executor."""
    return storage.join("job", "scratch")
