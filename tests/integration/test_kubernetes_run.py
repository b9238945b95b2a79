"""`chalkline run -f` with ``backend: kubernetes``: Jobs on the emulator -> real workers -> video.

The fake node runs each Job's pods as local processes with the pods' env, so
every task is the real ``chalkline worker --plan`` (Manim renders a tiny
scene) and the stitch the real ``chalkline stitch --plan``. Storage is a
file:// root, as a ReadWriteMany claim mounted at the same path would be.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalkline.core.probe import probe_clip
from tests.support.harness import ApiServer
from tests.support.kube_node import FakeNode


@pytest.mark.render
def test_a_render_job_runs_as_jobs_on_the_cluster_of_the_kubeconfig(
    kube_api: ApiServer, fake_node: FakeNode, tmp_path: Path, two_scenes: str
) -> None:
    storage = tmp_path / "storage"
    video = storage / "videos" / "two.mp4"
    config = tmp_path / "operator.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kubernetesImage": "example/chalkline:test",
                "kubernetesCommand": [sys.executable, "-m", "chalkline"],
                "kubernetesStorageClaim": "shared",
            }
        )
    )
    job: dict[str, Any] = {
        "apiVersion": "chalkline.dev/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "two"},
        "spec": {"source": {"inline": two_scenes}, "output": f"file://{video}"},
    }
    manifest = tmp_path / "job.yaml"
    manifest.write_text(yaml.safe_dump({**job, "spec": {**job["spec"], "backend": "kubernetes"}}))
    env = {
        **os.environ,
        "KUBECONFIG": str(kube_api.write_kubeconfig(tmp_path / "kubeconfig")),
        "CHALKLINE_CACHE_DIR": str(tmp_path / "cache"),
    }

    command = [sys.executable, "-m", "chalkline", "run", "-f", str(manifest), "-o", "yaml"]
    command += ["--config", str(config), "--storage", f"file://{storage}"]
    process = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )

    assert process.returncode == 0, process.stdout + process.stderr
    final = yaml.safe_load(process.stdout[process.stdout.find("apiVersion:") :])
    assert final["status"]["phase"] == "Succeeded"
    assert probe_clip(video).frames == 3 + 6
    render_jobs = [name for name in fake_node.jobs_seen if name.startswith("chalkline-render-")]
    stitch_jobs = [name for name in fake_node.jobs_seen if name.startswith("chalkline-stitch-")]
    assert (len(render_jobs), len(stitch_jobs)) == (1, 1)
    assert fake_node.pods_created[render_jobs[0]] == 2  # one pod per scene
    # The RenderJob lived only in memory: nothing may name it as owner.
    for meta in fake_node.job_metadata.values():
        assert "ownerReferences" not in meta
        assert meta["labels"]["chalkline.dev/renderjob"] == "two"
