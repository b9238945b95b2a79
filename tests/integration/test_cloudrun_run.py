"""`chalkline run -f` with ``backend: cloudrun``: Cloud Run fake -> real workers -> GCS emulator.

The fake (tests/cloudrun_fake) runs each task's container command as a local
process; the operator config points the Jobs' command at this interpreter, so
every task runs the real ``chalkline worker --plan`` / ``chalkline stitch
--plan``, reading and writing the bucket on fake-gcs-server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import av
import pytest
import yaml

from chalkline.errors import InvalidSpec
from chalkline.operator.config import OperatorConfig
from chalkline.operator.wiring import build_controller
from chalkline.storage import open_storage

if TYPE_CHECKING:
    from tests.cloudrun_fake import CloudRunFake
    from tests.gcs_fake import running_fake_gcs
else:
    from cloudrun_fake import CloudRunFake
    from gcs_fake import running_fake_gcs

TWO_SCENES = """\
from manim import *
class One(Scene):
    def construct(self):
        self.play(Create(Square()), run_time=0.2)
class Two(Scene):
    def construct(self):
        self.play(FadeIn(Circle()), run_time=0.4)
"""
RENDER_RUNS = r"/v2/projects/p/locations/r/jobs/chalkline-render-[^/]+:run"
STITCH_RUNS = r"/v2/projects/p/locations/r/jobs/chalkline-stitch-[^/]+:run"


@pytest.fixture(scope="module")
def fake_gcs() -> Iterator[str]:
    """This module's own fake-gcs-server (overrides conftest's session one).

    The session's server would outlive this module as a child of pytest, which
    tests/e2e's leftover-process check counts when run after it.
    """
    with running_fake_gcs() as url:
        yield url


@pytest.fixture
def fake() -> Iterator[CloudRunFake]:
    before = set(threading.enumerate())
    with CloudRunFake() as server:
        yield server
    leftover = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert leftover == [], f"threads left running: {leftover}"


def test_a_render_job_on_cloud_run_writes_a_gs_video(
    fake: CloudRunFake, gcs_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fake's task processes inherit this process's environment.
    monkeypatch.setenv("CHALKLINE_CACHE_DIR", str(tmp_path / "cache"))
    config = tmp_path / "operator.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "cloudrunImage": "example/chalkline:test",
                "cloudrunCommand": [sys.executable, "-m", "chalkline"],
                "cloudrunPollInterval": 0.1,
            }
        )
    )
    manifest = tmp_path / "job.yaml"
    video = f"gs://{gcs_bucket}/videos/two.mp4"
    job = {
        "apiVersion": "chalkline.dev/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "two"},
        "spec": {"source": {"inline": TWO_SCENES}, "output": video, "backend": "cloudrun"},
    }
    manifest.write_text(yaml.safe_dump(job))
    env = {
        **os.environ,
        "CHALKLINE_CLOUDRUN_ENDPOINT": fake.url,
        "CHALKLINE_CLOUDRUN_PROJECT": "p",
        "CHALKLINE_CLOUDRUN_REGION": "r",
    }
    command = [sys.executable, "-m", "chalkline", "run", "-f", str(manifest), "-o", "yaml"]
    command += ["--config", str(config), "--storage", f"gs://{gcs_bucket}/work"]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr + "\n".join(fake.task_logs().values())
    final = yaml.safe_load(result.stdout[result.stdout.index("apiVersion:") :])
    assert final["status"]["phase"] == "Succeeded"
    assert final["status"]["videoUri"] == video

    local = tmp_path / "two.mp4"
    local.write_bytes(open_storage(f"gs://{gcs_bucket}").read_bytes(video))
    with av.open(str(local)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 3 + 6
    # One execution rendered both scenes (one task each), one stitched them.
    assert fake.count("POST", RENDER_RUNS) == 1
    assert fake.count("POST", STITCH_RUNS) == 1


@pytest.mark.parametrize(
    ("image", "env", "missing"),
    [
        (None, {"CHALKLINE_CLOUDRUN_PROJECT": "p", "CHALKLINE_CLOUDRUN_REGION": "r"}, "image"),
        ("img", {"CHALKLINE_CLOUDRUN_REGION": "r"}, "project"),
        ("img", {"CHALKLINE_CLOUDRUN_PROJECT": "p"}, "region"),
    ],
)
def test_the_cloudrun_backend_names_what_it_is_missing(
    tmp_path: Path, image: str | None, env: dict[str, str], missing: str
) -> None:
    config = OperatorConfig(backend="cloudrun", storage=f"file://{tmp_path}", cloudrun_image=image)
    with pytest.raises(InvalidSpec, match=f"needs a .*{missing}"):
        build_controller(config, lambda ns, name: None, env=env)
