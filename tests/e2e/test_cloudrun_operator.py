"""The RenderJob operator on the cloudrun backend, end to end.

The real operator (backend ``cloudrun``, storage ``gs://``) talks to the API
server emulator, to the Cloud Run Admin API fake (tests/support/cloudrun_fake), which
runs each task's command, the real ``chalkline worker`` / ``chalkline stitch``
of this interpreter, as a local process, and to fake-gcs-server, where workers
and operator keep every file. The fake's request log is how a test counts
executions, and its failure injection stands in for the memory killer.

The script carries test instrumentation, as in test_operator.py (the same
script, tests/support/scenes.py): each scene logs the process it starts in to
a file, and ``Held`` waits for a gate file that these tests never open, so a
render is certainly in flight when a test acts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from chalkline.operator.config import OperatorConfig
from chalkline.storage import Storage, open_storage
from tests.support.cloudrun_fake import CloudRunFake
from tests.support.harness import (
    Cluster,
    Operator,
    alive,
    job_from,
    reasons_posted,
    task_state,
    wait_until,
)
from tests.support.scenes import FRAMES as SCENE_FRAMES
from tests.support.scenes import Scenes
from tests.support.stored import frames_in, staged

pytestmark = pytest.mark.render

#: Frames of the two scenes these tests render to the end (``Held`` never finishes here).
FRAMES = {scene: SCENE_FRAMES[scene] for scene in ("Opening", "Proof")}
RUNS = r"/v2/projects/p/locations/r/jobs/chalkline-{}[^/]*:run"
RENDER_RUNS = RUNS.format("render-")
STITCH_RUNS = RUNS.format("stitch-")


@pytest.fixture
def operator_config(
    kubeconfig: Path,
    gcs_bucket: str,
    cloudrun: CloudRunFake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> OperatorConfig:
    """The operator on Cloud Run: Jobs whose command is this interpreter's chalkline."""
    monkeypatch.setenv("CHALKLINE_CACHE_DIR", str(tmp_path / "task-cache"))  # for the tasks
    return OperatorConfig(
        backend="cloudrun",
        storage=f"gs://{gcs_bucket}",
        cache_dir=tmp_path / "manim-cache",
        poll_interval=0.3,
        cloudrun_image="example/chalkline:test",
        cloudrun_command=(sys.executable, "-m", "chalkline"),
        cloudrun_poll_interval=0.1,
    )


@pytest.fixture
def bucket(gcs_bucket: str) -> Storage:
    return open_storage(f"gs://{gcs_bucket}")


def test_a_renderjob_on_cloud_run_becomes_a_gs_video_with_every_scene(
    cluster: Cluster,
    operator: Operator,
    cloudrun: CloudRunFake,
    bucket: Storage,
    gcs_bucket: str,
    scenes: Scenes,
    tmp_path: Path,
) -> None:
    cluster.create(job_from(scenes, "intro", "Opening", "Proof"))

    job = cluster.wait_for_condition("intro", "True")

    video = job["status"]["videoUri"]
    assert video == f"gs://{gcs_bucket}/videos/default/intro.mp4"
    assert bucket.exists(video)
    assert frames_in(bucket, video, tmp_path) == FRAMES["Opening"] + FRAMES["Proof"]
    assert (cloudrun.count("POST", RENDER_RUNS), cloudrun.count("POST", STITCH_RUNS)) == (1, 1)
    cost = job["status"]["cost"]  # render tasks at 2 vCPU / 2 GiB, the stitch at 1 vCPU / 2 GiB
    assert 0 < cost["cpuSeconds"] <= cost["gibSeconds"] and float(cost["usd"]) > 0
    # The stitch order and its result live with the job's other intermediates...
    orders = [uri for uri in staged(bucket, job) if "/scratch/stitch-" in uri]
    assert orders, "the stitch order is staged"
    cluster.delete("intro")
    cluster.wait_gone("intro", timeout=10)
    # ... so deleting the RenderJob removes them all, and keeps the video.
    assert staged(bucket, job) == []
    assert bucket.exists(video)


def test_an_operator_killed_right_after_launching_leaves_exactly_one_execution(
    cluster: Cluster,
    operator: Operator,
    cloudrun: CloudRunFake,
    bucket: Storage,
    scenes: Scenes,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster.create(job_from(scenes, "course", "Opening", "Proof"))
    wait_until(lambda: cloudrun.count("POST", RENDER_RUNS), 30, "the render's :run")

    operator.kill()
    operator.start()

    job = cluster.wait_for_condition("course", "True")
    assert cloudrun.count("POST", RENDER_RUNS) == 1, "the new operator found the execution"
    assert frames_in(bucket, job["status"]["videoUri"], tmp_path) == sum(FRAMES.values())
    # Kopf's log records of the handler the kill orphaned hold its settings, and so
    # its thread pool: let them go, so that the pool's threads end with the test.
    caplog.clear()


def test_deleting_mid_render_cancels_the_execution_and_empties_the_staging_prefix(
    cluster: Cluster, operator: Operator, cloudrun: CloudRunFake, bucket: Storage, scenes: Scenes
) -> None:
    cluster.create(job_from(scenes, "talk", "Opening", "Held"))
    # Only the gated scene is in flight: a task that finishes while its execution
    # is being cancelled can still write its clip after the clean-up (see the report).
    job = cluster.wait_for(
        "talk", lambda job: task_state(job, "Opening") == "Succeeded", "Opening done"
    )
    held = wait_until(lambda: scenes.pids("Held"), 30, "Held to start rendering")
    assert staged(bucket, job), "the script, plan and Opening's clip are staged"

    cluster.delete("talk")

    cluster.wait_gone("talk", timeout=10)
    wait_until(lambda: not any(alive(pid) for pid in held), 10, "the render to stop")
    assert cloudrun.count("POST", r"/v2/.*/executions/[^/]+:cancel") >= 1
    [render] = cloudrun.executions.values()
    wait_until(lambda: render.run.finished, 5, "the execution to end")
    assert render.run.cancelling
    assert staged(bucket, job) == [], "intermediates are removed"


def test_a_stitch_killed_for_memory_succeeds_one_tier_up(
    cluster: Cluster,
    operator: Operator,
    cloudrun: CloudRunFake,
    bucket: Storage,
    scenes: Scenes,
    tmp_path: Path,
) -> None:
    cluster.create(job_from(scenes, "reel", "Opening", "Proof"))
    wait_until(lambda: cloudrun.count("POST", RENDER_RUNS), 30, "the render's :run")
    with cloudrun.lock:  # the render's execution exists; executions from now on are stitches
        cloudrun.inject(0, "oom")  # every try of the stitch's one task is killed
    wait_until(lambda: cloudrun.count("POST", STITCH_RUNS), 30, "the first stitch's :run")
    with cloudrun.lock:
        cloudrun.faults.clear()  # the escalated stitch runs as it would

    job = cluster.wait_for_condition("reel", "True")

    assert job["status"]["stitch"]["tier"] == "medium"
    assert cloudrun.count("POST", RUNS.format("stitch-small")) == 1
    assert cloudrun.count("POST", RUNS.format("stitch-medium")) == 1
    assert ("Warning", "StitchEscalated") in reasons_posted(cluster, "reel", "Succeeded")
    assert frames_in(bucket, job["status"]["videoUri"], tmp_path) == sum(FRAMES.values())


def test_a_failed_task_is_retried_alone_in_a_new_execution(
    cluster: Cluster,
    operator: Operator,
    cloudrun: CloudRunFake,
    bucket: Storage,
    scenes: Scenes,
    tmp_path: Path,
) -> None:
    # Every attempt of task 1 fails, in every execution; a retry of one scene is task 0.
    cloudrun.inject(1, "fail")
    job = job_from(scenes, "lesson", "Opening", "Proof")
    job["spec"]["retries"] = 1
    cluster.create(job)

    job = cluster.wait_for_condition("lesson", "True")

    renders = [e for e in cloudrun.executions.values() if "/jobs/chalkline-render-" in e.name]
    assert [len(e.run.tasks) for e in renders] == [2, 1], "the retry ran only the failed scene"
    assert len(scenes.pids("Opening")) == 1, "the scene that succeeded was not rendered again"
    assert len(scenes.pids("Proof")) == 1, "the failed scene ran once, in the retry"
    two = next(t for t in job["status"]["tasks"] if t["scene"] == "Proof")
    assert (two["state"], two["attempts"]) == ("Succeeded", 2)
    assert ("Warning", "RetryingTasks") in reasons_posted(cluster, "lesson", "Succeeded")
    assert frames_in(bucket, job["status"]["videoUri"], tmp_path) == sum(FRAMES.values())
