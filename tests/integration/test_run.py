"""`chalkline run -f`: a RenderJob manifest reconciled on this machine, no cluster."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import av
import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "examples"


def render_job(name: str, spec: dict[str, object]) -> dict[str, object]:
    return {
        "apiVersion": "chalkline.dev/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": name},
        "spec": spec,
    }


def run(manifest: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chalkline", "run", "-f", str(manifest), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def write_manifest(path: Path, *docs: Mapping[str, object]) -> Path:
    path.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    return path


def frames(video: Path) -> int:
    with av.open(str(video)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_a_render_job_runs_to_a_video_and_prints_its_status(
    tmp_path: Path, two_scenes: str
) -> None:
    video = tmp_path / "two.mp4"
    manifest = write_manifest(
        tmp_path / "job.yaml",
        render_job("two", {"source": {"inline": two_scenes}, "output": f"file://{video}"}),
    )
    result = run(manifest, "-o", "yaml", "--storage", f"file://{tmp_path / 'store'}")
    assert result.returncode == 0, result.stderr
    assert frames(video) == 3 + 6
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "PHASE", "PROGRESS", "TIER", "VIDEO"]
    assert any(line.split()[:3] == ["two", "Rendering", "0/2"] for line in lines)
    assert any(line.split()[:2] == ["two", "Succeeded"] for line in lines)
    for reason in ("Rendering", "SceneRendered", "Stitching", "Succeeded"):
        assert f" {reason} " in result.stderr
    final = yaml.safe_load(result.stdout[result.stdout.index("apiVersion:") :])
    assert final["status"]["videoUri"] == f"file://{video}"
    assert final["status"]["conditions"][0]["status"] == "True"
    # Intermediates are removed once the run ends; the video stays.
    assert list((tmp_path / "store").rglob("*.mp4")) == []


def test_a_config_map_in_the_same_file_is_the_script(tmp_path: Path, two_scenes: str) -> None:
    video = tmp_path / "one.mp4"
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "scripts"},
        "data": {"two.py": two_scenes},
    }
    job = render_job(
        "one",
        {
            "source": {"configMapKeyRef": {"name": "scripts", "key": "two.py"}},
            "scenes": ["One"],
            "output": f"file://{video}",
        },
    )
    manifest = write_manifest(tmp_path / "job.yaml", config_map, job)
    result = run(manifest, "--storage", f"file://{tmp_path / 'store'}")
    assert result.returncode == 0, result.stderr
    assert frames(video) == 3


def test_a_failing_job_exits_non_zero_with_reason_and_message(tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path / "job.yaml",
        render_job(
            "broken",
            {"source": {"configMapKeyRef": {"name": "missing", "key": "s.py"}}},
        ),
    )
    result = run(manifest, "--storage", f"file://{tmp_path / 'store'}")
    assert result.returncode == 1
    assert "error: RenderJob broken failed (SourceNotFound)" in result.stderr
    assert "ConfigMap default/missing not found" in result.stderr
    assert any(line.split()[:2] == ["broken", "Failed"] for line in result.stdout.splitlines())


def test_an_invalid_manifest_is_rejected_before_anything_runs(
    tmp_path: Path, two_scenes: str
) -> None:
    manifest = write_manifest(
        tmp_path / "job.yaml",
        render_job("bad", {"source": {"inline": two_scenes}, "quality": "ultra"}),
    )
    result = run(manifest, "--storage", f"file://{tmp_path / 'store'}")
    assert result.returncode == 1
    assert "spec.quality = 'ultra' is not one of: low, medium, high, 4k" in result.stderr


def test_the_bundled_inline_example_runs(tmp_path: Path) -> None:
    result = run(EXAMPLES / "inline.yaml", "--storage", f"file://{tmp_path / 'store'}")
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "store" / "videos").rglob("hello.mp4"))


def test_the_operator_without_cluster_credentials_says_how_to_give_them(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chalkline", "operator"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path)},
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: no Kubernetes credentials")
    assert "KUBECONFIG" in result.stderr
