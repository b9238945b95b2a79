"""`chalkline stitch --backend cloudrun`: ready clips joined by a Cloud Run stitch Job.

Local clips are uploaded to the bucket on fake-gcs-server, gs:// clips are used
where they are; the Cloud Run fake runs the real ``chalkline stitch --plan`` of
this interpreter; the CLI downloads the video and leaves in the bucket only
what was there before.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import av
import pytest

from chalkline.storage import open_storage
from tests.support.clips import MakeClip
from tests.support.cloudrun_fake import CloudRunFake

RUNS = r"/v2/projects/p/locations/r/jobs/chalkline-{}[^/]*:run"


def stitch_on_cloudrun(
    fake: CloudRunFake, bucket: str, output: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "chalkline", "stitch", *args, "-o", str(output)]
    command += ["--no-progress", "--backend", "cloudrun", "--project", "p", "--region", "r"]
    command += ["--bucket", bucket, "--image", "img:test", "--endpoint", fake.url]
    command += [
        "--poll-interval",
        "0.1",
        "--command",
        shlex.join([sys.executable, "-m", "chalkline"]),
    ]
    env = {**os.environ, "CHALKLINE_CACHE_DIR": str(output.parent / "cache")}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)


def frames(video: Path) -> int:
    with av.open(str(video)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_local_and_gs_clips_become_one_local_video(
    fake: CloudRunFake, gcs_bucket: str, make_clip: MakeClip, tmp_path: Path
) -> None:
    first, second = make_clip(seconds=1.0), make_clip(seconds=2.0)
    storage = open_storage(f"gs://{gcs_bucket}")
    theirs = f"gs://{gcs_bucket}/library/outro.mp4"
    storage.upload(make_clip(seconds=1.0), theirs)
    output = tmp_path / "reel.mp4"

    result = stitch_on_cloudrun(fake, gcs_bucket, output, str(first), str(second), theirs)

    assert result.returncode == 0, result.stderr + "\n".join(fake.task_logs().values())
    assert frames(output) == frames(first) + frames(second) + frames(first)
    assert f"uploading {first}" in result.stdout
    assert "stitch mode: copy (on Cloud Run, tier small)" in result.stdout
    assert fake.count("POST", RUNS.format("stitch-")) == 1
    assert fake.count("POST", RUNS.format("render-")) == 0
    # Uploads, staging and the temporary video are gone; the user's own clip is not.
    assert storage.list(f"gs://{gcs_bucket}/") == [theirs]


def test_a_clip_that_is_not_a_video_is_refused_before_anything_runs(
    fake: CloudRunFake, gcs_bucket: str, make_clip: MakeClip, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    output = tmp_path / "reel.mp4"

    result = stitch_on_cloudrun(fake, gcs_bucket, output, str(make_clip()), str(notes))

    assert result.returncode == 1
    assert f"error: clip {notes} is not a video" in result.stderr
    assert fake.count("POST", r".*:run") == 0
    assert not output.exists()
    assert open_storage(f"gs://{gcs_bucket}").list(f"gs://{gcs_bucket}/") == []


def test_a_missing_gs_clip_fails_the_stitch_and_names_it(
    fake: CloudRunFake, gcs_bucket: str, make_clip: MakeClip, tmp_path: Path
) -> None:
    missing = f"gs://{gcs_bucket}/library/gone.mp4"
    output = tmp_path / "reel.mp4"

    result = stitch_on_cloudrun(fake, gcs_bucket, output, str(make_clip()), missing)

    assert result.returncode == 1
    assert missing in result.stderr
    assert fake.count("POST", RUNS.format("stitch-")) == 0
    assert not output.exists()
    assert open_storage(f"gs://{gcs_bucket}").list(f"gs://{gcs_bucket}/") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "cloudrun", "--resolution", "640x360"], "--resolution cannot be used"),
        (["--tier", "large"], "--tier needs --backend cloudrun or kubernetes"),
        (["--bucket", "b"], "--bucket needs --backend cloudrun or kubernetes"),
        (["--backend", "cloudrun", "--image", "i"], "--backend cloudrun needs --bucket"),
    ],
)
def test_options_of_the_other_backend_are_refused(
    make_clip: MakeClip, tmp_path: Path, args: list[str], message: str
) -> None:
    output = tmp_path / "reel.mp4"
    command = [sys.executable, "-m", "chalkline", "stitch", str(make_clip()), "-o", str(output)]
    result = subprocess.run(command + args, capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    assert message in result.stderr
    assert not output.exists()


def test_tier_names_the_smallest_stitch_job_to_run_on(
    fake: CloudRunFake, gcs_bucket: str, make_clip: MakeClip, tmp_path: Path
) -> None:
    output = tmp_path / "reel.mp4"

    result = stitch_on_cloudrun(fake, gcs_bucket, output, str(make_clip()), "--tier", "large")

    assert result.returncode == 0, result.stderr
    assert "(on Cloud Run, tier large)" in result.stdout
    assert fake.count("POST", RUNS.format("stitch-large")) == 1
    assert frames(output) == frames(make_clip())
