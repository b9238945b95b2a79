"""A stitch-only RenderJob (``spec.clips``) of gs:// clips, run with ``backend: cloudrun``.

The operator probes each clip in the bucket through ranged reads (it never
downloads a clip), sizes the stitch, and starts one stitch execution; the
Cloud Run fake runs the real ``chalkline stitch --plan`` against
fake-gcs-server (the ``run_on_cloudrun`` fixture in conftest.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalkline.storage import open_storage
from tests.support.clips import MakeClip
from tests.support.cloudrun_cli import RunOnCloudRun


def stitch_job(clips: list[str], output: str) -> dict[str, Any]:
    return {
        "apiVersion": "chalkline.dev/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "reel"},
        "spec": {"clips": clips, "output": output, "backend": "cloudrun"},
    }


def upload(bucket: str, clips: dict[str, Path]) -> list[str]:
    """Put each clip at ``gs://BUCKET/uploads/NAME``; their URIs, in order."""
    store = open_storage(f"gs://{bucket}")
    uris = []
    for name, clip in clips.items():
        uri = store.join("uploads", name)
        store.upload(clip, uri)
        uris.append(uri)
    return uris


def test_gs_clips_are_joined_by_one_stitch_execution(
    run_on_cloudrun: RunOnCloudRun, gcs_bucket: str, make_clip: MakeClip
) -> None:
    clips = {
        "intro.mp4": make_clip(seconds=1.0),
        "middle.mp4": make_clip(seconds=2.0),
        "outro.mp4": make_clip(seconds=1.0),
    }
    video = f"gs://{gcs_bucket}/videos/reel.mp4"

    run = run_on_cloudrun(stitch_job(upload(gcs_bucket, clips), video))

    assert run.process.returncode == 0, run.output()
    assert run.job["status"]["phase"] == "Succeeded"
    assert run.job["status"]["videoUri"] == video
    assert run.video_frames() == 15 + 30 + 15
    assert run.executions("stitch") == 1
    assert run.executions("render") == 0


def test_a_missing_gs_clip_fails_the_job_before_any_execution(
    run_on_cloudrun: RunOnCloudRun, gcs_bucket: str, make_clip: MakeClip
) -> None:
    [intro] = upload(gcs_bucket, {"intro.mp4": make_clip()})
    missing = f"gs://{gcs_bucket}/uploads/typo.mp4"

    run = run_on_cloudrun(stitch_job([intro, missing], f"gs://{gcs_bucket}/videos/reel.mp4"))

    assert run.process.returncode == 1
    assert run.job["status"]["phase"] == "Failed"
    condition = run.job["status"]["conditions"][-1]
    assert condition["reason"] == "SourceNotFound"
    assert f"{missing} does not exist" in condition["message"]
    assert f"{missing} does not exist" in run.process.stderr  # the CLI's error line
    assert run.executions("stitch") == 0
    assert run.executions("render") == 0
