"""`chalkline render --backend cloudrun`: a laptop render through Cloud Run fake and GCS emulator.

The Jobs' command is this interpreter's ``chalkline``, so the fake runs the real
workers and stitcher against the bucket on fake-gcs-server; the CLI downloads
the video to a local file and leaves nothing in the bucket.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import av

from chalkline.storage import open_storage
from tests.support.cloudrun_fake import CloudRunFake

BROKEN = """
class Broken(Scene):
    def construct(self):
        raise RuntimeError("this scene cannot be drawn")
"""
RENDER_RUNS = r"/v2/projects/p/locations/r/jobs/chalkline-render-[^/]+:run"


def render_on_cloudrun(
    fake: CloudRunFake, bucket: str, tmp_path: Path, source: str, *scenes: str
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "scenes.py"
    script.write_text(source + BROKEN)
    command = [sys.executable, "-m", "chalkline", "render", str(script), *scenes]
    command += ["-o", str(tmp_path / "out.mp4"), "--no-progress", "--backend", "cloudrun"]
    command += ["--project", "p", "--region", "r", "--bucket", bucket, "--image", "img:test"]
    command += ["--endpoint", fake.url, "--poll-interval", "0.1"]
    command += ["--command", shlex.join([sys.executable, "-m", "chalkline"])]
    # The fake's task processes inherit the environment: the emulator and a private cache.
    env = {**os.environ, "CHALKLINE_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)


def test_a_laptop_render_on_cloud_run_writes_the_video_locally(
    fake: CloudRunFake, gcs_bucket: str, tmp_path: Path, two_scenes: str
) -> None:
    result = render_on_cloudrun(fake, gcs_bucket, tmp_path, two_scenes, "One", "Two")

    assert result.returncode == 0, result.stderr + "\n".join(fake.task_logs().values())
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 3 + 6
    assert "rendering 2 scene(s): One, Two" in result.stdout
    assert "One: done (" in result.stdout
    assert "Two: done (" in result.stdout
    assert f"wrote {tmp_path / 'out.mp4'}" in result.stdout
    assert fake.count("POST", RENDER_RUNS) == 1
    # Staging and the temporary video are gone from the bucket.
    assert open_storage(f"gs://{gcs_bucket}").list(f"gs://{gcs_bucket}/") == []


def test_a_failing_scene_fails_the_render_and_writes_nothing(
    fake: CloudRunFake, gcs_bucket: str, tmp_path: Path, two_scenes: str
) -> None:
    result = render_on_cloudrun(fake, gcs_bucket, tmp_path, two_scenes, "One", "Broken")

    assert result.returncode == 1
    assert "Broken: failed" in result.stdout
    assert "error: scene(s) Broken failed on Cloud Run" in result.stderr
    # The worker's own words and the script's line, not only Cloud Run's exit code.
    assert "RuntimeError: this scene cannot be drawn" in result.stderr
    assert 'raise RuntimeError("this scene cannot be drawn")' in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.mp4").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []
    assert open_storage(f"gs://{gcs_bucket}").list(f"gs://{gcs_bucket}/") == []
