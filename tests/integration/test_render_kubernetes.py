"""`chalkline render|stitch --backend kubernetes`: a laptop run as Jobs on the kubeconfig's cluster.

The kubeconfig names the API server emulator; the fake node runs the Jobs'
pods as local processes, and the pods' command is this interpreter's
``chalkline``, so real workers and the real stitcher read and write the
bucket on fake-gcs-server. The CLI downloads the video and leaves nothing
in the bucket.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import av

from chalkline.storage import open_storage
from tests.support.clips import MakeClip
from tests.support.harness import ApiServer
from tests.support.kube_node import FakeNode, JsonApi


def chalkline_on_kubernetes(
    kube_api: ApiServer, bucket: str, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "chalkline", *args, "--no-progress"]
    command += ["--backend", "kubernetes", "--bucket", bucket, "--image", "img:test"]
    command += [
        "--poll-interval",
        "0.1",
        "--command",
        shlex.join([sys.executable, "-m", "chalkline"]),
    ]
    env = {
        **os.environ,
        "KUBECONFIG": str(kube_api.write_kubeconfig(tmp_path / "kubeconfig")),
        "CHALKLINE_CACHE_DIR": str(tmp_path / "cache"),
    }
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)


def test_a_laptop_render_runs_as_jobs_and_writes_the_video_locally(
    kube_api: ApiServer, fake_node: FakeNode, gcs_bucket: str, tmp_path: Path, two_scenes: str
) -> None:
    script = tmp_path / "scenes.py"
    script.write_text(two_scenes)
    output = tmp_path / "out.mp4"

    result = chalkline_on_kubernetes(
        kube_api, gcs_bucket, tmp_path, "render", str(script), "-o", str(output)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    with av.open(str(output)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 3 + 6
    assert "(on Kubernetes, tier small)" in result.stdout
    roles = sorted(name.split("-")[1] for name in fake_node.jobs_seen)
    assert roles == ["render", "stitch"]
    # The RenderJob lived only in memory: nothing may name it as owner, and the
    # run's Jobs are gone with its other intermediates.
    assert all("ownerReferences" not in meta for meta in fake_node.job_metadata.values())
    api = JsonApi(kube_api.url)
    try:
        assert api.call("GET", "/apis/batch/v1/namespaces/default/jobs")["items"] == []
    finally:
        api.close()
    assert open_storage(f"gs://{gcs_bucket}").list(f"gs://{gcs_bucket}/") == []


def test_a_laptop_stitch_uploads_local_clips_and_joins_them_in_a_job(
    kube_api: ApiServer, fake_node: FakeNode, gcs_bucket: str, tmp_path: Path,
    make_clip: MakeClip,
) -> None:  # fmt: skip
    first, second = make_clip(), make_clip()
    output = tmp_path / "reel.mp4"

    result = chalkline_on_kubernetes(
        kube_api, gcs_bucket, tmp_path, "stitch", str(first), str(second), "-o", str(output)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert output.exists() and "(on Kubernetes, tier small)" in result.stdout
    assert [name.split("-")[1] for name in fake_node.jobs_seen] == ["stitch"]
    assert open_storage(f"gs://{gcs_bucket}").list(f"gs://{gcs_bucket}/") == []
