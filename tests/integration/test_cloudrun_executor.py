"""The cloudrun executor with the real google.cloud.run_v2 clients, against the Cloud Run fake.

The fake (tests/support/cloudrun_fake) serves the Admin API v2 over REST on loopback
and runs each task's container command as a local process. Here the command
is a stand-in (tests/support/stand_ins.py) that does what ``chalkline worker``
and ``chalkline stitch`` do with a plan, so these tests exercise the
executor's contract, not Manim.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from chalkline.executors.base import ExecutionReport, StitchWork, Usage
from chalkline.executors.cloudrun import CloudRunExecutor
from chalkline.executors.cloudrun_jobs import CloudRunConfig, Resources, desired_jobs
from chalkline.operator.config import load_config
from chalkline.operator.wiring import build_controller
from chalkline.storage import FileStorage
from tests.support.cloudrun_fake import CloudRunFake
from tests.support.executors import render_work, scratch_of, wait_for
from tests.support.stand_ins import STITCHER, WORKER

PATHS = {
    "run": r"/v2/projects/p/locations/r/jobs/[^/]+:run",
    "create": r"/v2/projects/p/locations/r/jobs",
    "update": r"/v2/projects/p/locations/r/jobs/[^/]+",
}


@pytest.fixture
def storage(tmp_path: Path) -> FileStorage:
    return FileStorage(tmp_path / "store")


@pytest.fixture
def config(fake: CloudRunFake) -> CloudRunConfig:
    return CloudRunConfig(
        project="p",
        region="r",
        image="example/chalkline:test",
        endpoint=fake.url,
        command=(sys.executable, "-c"),
        render_args=(WORKER,),
        stitch_args=(STITCHER,),
        poll_interval_s=0.0,
    )


@pytest.fixture
def executor(storage: FileStorage, config: CloudRunConfig) -> Iterator[CloudRunExecutor]:
    cloudrun = CloudRunExecutor(storage, config)
    cloudrun.ensure_jobs()
    yield cloudrun
    cloudrun.close()


def test_ensure_jobs_writes_a_job_only_when_its_template_differs(
    fake: CloudRunFake, storage: FileStorage, config: CloudRunConfig
) -> None:
    cloudrun = CloudRunExecutor(storage, config)
    try:
        first = cloudrun.ensure_jobs()
        assert set(first.values()) == {"created"}
        assert set(first) == {
            *(f"chalkline-render-{q}" for q in ("low", "medium", "high", "4k")),
            *(f"chalkline-stitch-{t}" for t in ("small", "medium", "large", "xlarge")),
        }
        assert fake.count("POST", PATHS["create"]) == len(first)

        assert set(cloudrun.ensure_jobs().values()) == {"unchanged"}
        assert fake.count("PATCH", PATHS["update"]) == 0
        assert fake.count("POST", PATHS["create"]) == len(first)
    finally:
        cloudrun.close()

    moved = CloudRunExecutor(storage, replace(config, image="example/chalkline:v2"))
    try:
        assert set(moved.ensure_jobs().values()) == {"updated"}
        assert fake.count("PATCH", PATHS["update"]) == len(first)
    finally:
        moved.close()


def test_stitch_jobs_take_their_tier_resources(
    fake: CloudRunFake, executor: CloudRunExecutor
) -> None:
    limits = fake.jobs["projects/p/locations/r/jobs/chalkline-stitch-small"]["template"]
    container = limits["template"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
    assert limits["template"]["timeout"] == "600s"


def test_a_render_runs_one_task_per_scene_and_reports_manifests(
    fake: CloudRunFake, executor: CloudRunExecutor, storage: FileStorage
) -> None:
    handle = executor.launch_render(
        "uid-g1-a0",
        render_work(storage, "Intro", "Proof", "Outro"),
        2,
        scratch_uri=scratch_of(storage),
    )

    report = wait_for(executor, handle, {"Succeeded", "Failed"})

    assert report.phase == "Succeeded", report
    assert [t.index for t in report.tasks] == [0, 1, 2]
    assert [t.manifest.scene for t in report.tasks if t.manifest] == ["Intro", "Proof", "Outro"]
    assert storage.read_bytes(storage.join("job", "clips", "Proof-low-d.mp4")) == b"clip of Proof"
    assert fake.count("POST", PATHS["run"]) == 1


def billed_seconds(fake: CloudRunFake, handle: str) -> float:
    """Run time of the execution's tasks by the fake's own clock, each rounded up to 100 ms."""
    total = 0.0
    for task in fake.executions[handle].run.tasks:
        assert task.start_time and task.completion_time, task
        ran = datetime.fromisoformat(task.completion_time) - datetime.fromisoformat(task.start_time)
        total += math.ceil(round(ran.total_seconds() * 10, 6)) / 10
    return total


def usage_of(report: ExecutionReport) -> tuple[float, float]:
    assert isinstance(report.usage, Usage), report
    return report.usage.cpu_seconds, report.usage.gib_seconds


def test_a_finished_render_reports_its_usage_from_task_time_and_the_jobs_size(
    fake: CloudRunFake, storage: FileStorage, config: CloudRunConfig
) -> None:
    sized = replace(config, render_resources={"low": Resources("2", "4Gi")})
    cloudrun = CloudRunExecutor(storage, sized)
    try:
        cloudrun.ensure_jobs()
        handle = cloudrun.launch_render(
            "uid-g1-a0",
            render_work(storage, "Intro", "Proof"),
            2,
            scratch_uri=scratch_of(storage),
        )
        report = wait_for(cloudrun, handle, {"Succeeded", "Failed"})
    finally:
        cloudrun.close()

    assert report.phase == "Succeeded", report
    seconds = billed_seconds(fake, handle)
    assert usage_of(report) == pytest.approx((2 * seconds, 4 * seconds))  # 2 vCPU, 4 GiB
    assert seconds >= sum(t.seconds for t in report.tasks) > 0  # rounded up, never down


def test_a_stitch_reports_its_usage_at_its_tiers_size(
    fake: CloudRunFake, executor: CloudRunExecutor, storage: FileStorage
) -> None:
    clip = storage.join("job", "clips", "0.mp4")
    storage.write_bytes(clip, b"clip")
    stitch = StitchWork(
        (clip,), storage.join("job", "video.mp4"), storage.join("job", "scratch"), "medium"
    )

    handle = executor.launch_stitch("uid-g1-s0", stitch)
    report = wait_for(executor, handle, {"Succeeded", "Failed"})

    seconds = billed_seconds(fake, handle)
    assert seconds > 0
    assert usage_of(report) == pytest.approx((2 * seconds, 4 * seconds))  # medium: 2 vCPU, 4Gi


def test_the_same_key_launches_one_execution_even_after_a_restart(
    fake: CloudRunFake, executor: CloudRunExecutor, storage: FileStorage, config: CloudRunConfig
) -> None:
    first = executor.launch_render(
        "uid-g1-a0", render_work(storage, "Intro"), 1, scratch_uri=scratch_of(storage)
    )
    assert (
        executor.launch_render(
            "uid-g1-a0",
            render_work(storage, "Intro"),
            1,
            scratch_uri=scratch_of(storage),
        )
        == first
    )

    restarted = CloudRunExecutor(storage, config)  # knows nothing but what Cloud Run keeps
    try:
        assert (
            restarted.launch_render(
                "uid-g1-a0",
                render_work(storage, "Intro"),
                1,
                scratch_uri=scratch_of(storage),
            )
            == first
        )
        assert (
            restarted.launch_render(
                "uid-g1-a1",
                render_work(storage, "Intro"),
                1,
                scratch_uri=scratch_of(storage),
            )
            != first
        )
    finally:
        restarted.close()
    assert fake.count("POST", PATHS["run"]) == 2
    wait_for(executor, first, {"Succeeded"})


def test_a_failed_task_is_reported_with_its_message(
    fake: CloudRunFake, executor: CloudRunExecutor, storage: FileStorage
) -> None:
    fake.inject(1, "fail")
    handle = executor.launch_render(
        "uid-g1-a0",
        render_work(storage, "Intro", "Proof"),
        2,
        scratch_uri=scratch_of(storage),
    )

    report = wait_for(executor, handle, {"Succeeded", "Failed"})

    assert report.phase == "Failed"
    assert report.reason == "RenderFailed"
    assert [t.phase for t in report.tasks] == ["Succeeded", "Failed"]
    assert "exit code 3" in report.tasks[1].message
    assert "1 retries" in report.tasks[1].message  # max_retries=1: tried twice
    assert report.tasks[0].manifest is not None


def test_cancel_stops_the_task_processes(
    fake: CloudRunFake, executor: CloudRunExecutor, storage: FileStorage
) -> None:
    fake.inject(0, "hang")
    handle = executor.launch_render(
        "uid-g1-a0", render_work(storage, "Slow"), 1, scratch_uri=scratch_of(storage)
    )
    wait_for(executor, handle, {"Running"})
    run = fake.executions[handle].run
    deadline = time.monotonic() + 10
    while run.tasks[0].process is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process = run.tasks[0].process
    assert process is not None

    executor.cancel(handle)
    report = wait_for(executor, handle, {"Cancelled", "Failed", "Succeeded"})

    assert report.phase == "Cancelled"
    assert [t.phase for t in report.tasks] == ["Cancelled"]
    assert process.returncode is not None  # killed and reaped
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)
    executor.cancel(handle)  # cancelling a finished execution is harmless


def test_a_stitch_reports_the_result_it_stored(
    executor: CloudRunExecutor, storage: FileStorage
) -> None:
    clips = [storage.join("job", "clips", f"{i}.mp4") for i in range(2)]
    for i, clip in enumerate(clips):
        storage.write_bytes(clip, f"clip{i}".encode())
    output = storage.join("job", "video.mp4")

    handle = executor.launch_stitch(
        "uid-g1-s0", StitchWork(tuple(clips), output, storage.join("job", "scratch"), "small")
    )
    report = wait_for(executor, handle, {"Succeeded", "Failed"})

    assert report.phase == "Succeeded", report
    assert report.details == {"mode": "copy", "sizeBytes": "42"}
    assert storage.read_bytes(output) == b"clip0clip1"


@pytest.mark.parametrize(
    ("fault", "timeout", "reason"),
    [("oom", None, "StitchOutOfMemory"), ("hang", 1, "StitchTimedOut")],
)
def test_a_stitch_that_dies_of_memory_or_time_says_so(
    fake: CloudRunFake,
    executor: CloudRunExecutor,
    storage: FileStorage,
    fault: str,
    timeout: int | None,
    reason: str,
) -> None:
    fake.inject(0, "oom" if fault == "oom" else "hang")
    stitch = StitchWork(
        (storage.join("a.mp4"),), storage.join("v.mp4"), storage.join("s"), "small", timeout
    )

    handle = executor.launch_stitch("uid-g1-s0", stitch)
    report = wait_for(executor, handle, {"Succeeded", "Failed"})

    assert report.phase == "Failed"
    assert report.reason == reason
    if fault == "oom":
        assert "Memory limit of 2048 MiB exceeded" in report.message


def test_polls_back_off_when_the_api_quota_is_exhausted(
    fake: CloudRunFake, storage: FileStorage, config: CloudRunConfig
) -> None:
    now = [0.0]
    cloudrun = CloudRunExecutor(storage, replace(config, poll_interval_s=5), clock=lambda: now[0])
    try:
        cloudrun.ensure_jobs()
        fake.inject(0, "hang")
        handle = cloudrun.launch_render(
            "uid-g1-a0", render_work(storage, "Slow"), 1, scratch_uri=scratch_of(storage)
        )
        gets = r"/v2/projects/p/locations/r/jobs/[^/]+/executions/[^/]+"

        cloudrun.poll(handle)
        cloudrun.poll(handle)  # within 5 s: served from the last report
        assert fake.count("GET", gets) == 1

        fake.throttle(1)
        now[0] = 6.0
        assert cloudrun.poll(handle).phase == "Running"  # the last report, not an error
        now[0] = 12.0  # the interval doubled to 10 s after the 429
        cloudrun.poll(handle)
        assert fake.count("GET", gets) == 2
        now[0] = 16.5
        cloudrun.poll(handle)
        assert fake.count("GET", gets) == 3
        cloudrun.cancel(handle)
    finally:
        cloudrun.close()


def test_cpu_and_memory_must_be_a_combination_cloud_run_accepts(config: CloudRunConfig) -> None:
    from chalkline.core.errors import InvalidSpec

    for cpu, memory in [("1", "8Gi"), ("2", "16Gi"), ("4", "1Gi"), ("3", "4Gi"), ("8", "2Gi")]:
        bad = replace(config, render_resources={"low": Resources(cpu, memory)})
        with pytest.raises(InvalidSpec):
            desired_jobs(bad)
    for cpu, memory in [("1", "4Gi"), ("2", "8Gi"), ("4", "16Gi"), ("6", "24Gi"), ("8", "32Gi")]:
        desired_jobs(replace(config, render_resources={"low": Resources(cpu, memory)}))


def test_operator_settings_shape_the_jobs(fake: CloudRunFake, tmp_path: Path) -> None:
    settings = {
        "backend": "cloudrun",
        "storage": f"file://{tmp_path}",
        "cloudrunProject": "p",
        "cloudrunRegion": "r",
        "cloudrunEndpoint": fake.url,
        "cloudrunImage": "example/worker:1",
        "cloudrunStitchImage": "example/stitcher:1",
        "cloudrunRenderResources": {"high": {"cpu": "8", "memory": "32Gi"}},
        "cloudrunParallelism": 3,
        "cloudrunTaskTimeoutSeconds": 900,
        "cloudrunMaxRetries": 2,
    }
    controller = build_controller(load_config(None, settings, env={}), lambda ns, n: None, env={})
    controller.executor.close()

    def job(name: str) -> dict[str, Any]:
        return dict(fake.jobs[f"projects/p/locations/r/jobs/chalkline-{name}"]["template"])

    high, low, stitch = job("render-high"), job("render-low"), job("stitch-small")
    assert high["template"]["containers"][0]["image"] == "example/worker:1"
    assert high["template"]["containers"][0]["resources"]["limits"] == {
        "cpu": "8",
        "memory": "32Gi",
    }
    assert low["template"]["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}
    assert (high["parallelism"], high["template"]["timeout"]) == (3, "900s")
    assert high["template"]["maxRetries"] == 2
    assert stitch["template"]["containers"][0]["image"] == "example/stitcher:1"
    assert stitch["template"].get("maxRetries", 0) == 0  # the reconciler retries a stitch
