"""Fixtures for integration tests: small real clips made by FFmpeg, reads from GCS
counted, `chalkline run -f` on the Cloud Run fake (tests/support/cloudrun_fake), and
a Kubernetes API server with a fake node that runs its Jobs' pods as local processes
(tests/support/kube_emulator.py, tests/support/kube_node.py).
fake-gcs-server and its buckets are tests/conftest.py's."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.cloud.storage.blob import Blob  # type: ignore[import-untyped,unused-ignore]

from tests.support.clips import MakeClip, make_test_clip
from tests.support.cloudrun_cli import CloudRunJobRun, RunOnCloudRun
from tests.support.cloudrun_fake import CloudRunFake
from tests.support.harness import ApiServer
from tests.support.kube_node import FakeNode


@pytest.fixture(scope="session")
def make_clip(tmp_path_factory: pytest.TempPathFactory) -> MakeClip:
    """Return ``make(width=, height=, fps=, seconds=, audio=)`` -> a test clip.

    Clips are cached for the session by their shape, so tests that need the
    same kind of clip share one file. Tests must not modify the clips.
    """
    folder = tmp_path_factory.mktemp("clips")
    made: dict[tuple[object, ...], Path] = {}

    def make(
        *,
        width: int = 160,
        height: int = 90,
        fps: int = 15,
        seconds: float = 1.0,
        audio: bool = True,
    ) -> Path:
        key = (width, height, fps, seconds, audio)
        if key not in made:
            name = f"{width}x{height}_{fps}fps_{seconds}s_{'audio' if audio else 'silent'}.mp4"
            made[key] = make_test_clip(
                folder / name, width=width, height=height, fps=fps, seconds=seconds, audio=audio
            )
        return made[key]

    return make


@pytest.fixture
def gcs_downloads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the bodies the GCS client downloads in this process, one per request.

    Records at the client (the network boundary) and changes nothing, so a
    test can show that a reader fetched a few ranges, not whole objects.
    """
    sizes: list[int] = []
    download = Blob.download_as_bytes

    def recording(self: Blob, *args: Any, **kwargs: Any) -> bytes:
        data: bytes = download(self, *args, **kwargs)
        sizes.append(len(data))
        return data

    monkeypatch.setattr(Blob, "download_as_bytes", recording)
    return sizes


#: Thread names google-cloud-storage's metadata cache gives its background work.
GCS_METADATA_THREADS = ("(_fetch_background)", "(_verify_existence_background)")


@pytest.fixture
def fake() -> Iterator[CloudRunFake]:
    """The Cloud Run Admin API fake; the test fails if it leaves threads running."""
    before = set(threading.enumerate())
    with CloudRunFake() as server:
        yield server
    # Threads may still be finishing: give them a moment to end by themselves;
    # only those that keep running leak. google-cloud-storage's bucket-metadata
    # cache starts daemon threads of its own that retry until their deadline
    # once the test's fake-gcs-server is gone: the library's, not ours.
    deadline = time.monotonic() + 5
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    leftover = [
        t
        for t in set(threading.enumerate()) - before
        if t.is_alive() and not t.name.endswith(GCS_METADATA_THREADS)
    ]
    assert leftover == [], f"threads left running: {leftover}"


@pytest.fixture
def run_on_cloudrun(
    fake: CloudRunFake, gcs_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> RunOnCloudRun:
    """Return ``run(job)``: ``chalkline run -f`` of the RenderJob ``job`` on Cloud Run.

    The operator config points the Jobs' command at this interpreter, so the
    fake runs every task's real ``chalkline worker --plan`` / ``chalkline
    stitch --plan`` as a local process, reading and writing ``gcs_bucket``
    (the storage root is ``gs://BUCKET/work``) on fake-gcs-server.
    """
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
    env = {
        **os.environ,
        "CHALKLINE_CLOUDRUN_ENDPOINT": fake.url,
        "CHALKLINE_CLOUDRUN_PROJECT": "p",
        "CHALKLINE_CLOUDRUN_REGION": "r",
    }

    def run(job: dict[str, Any]) -> CloudRunJobRun:
        manifest = tmp_path / "job.yaml"
        manifest.write_text(yaml.safe_dump(job))
        command = [sys.executable, "-m", "chalkline", "run", "-f", str(manifest), "-o", "yaml"]
        command += ["--config", str(config), "--storage", f"gs://{gcs_bucket}/work"]
        process = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=120, check=False
        )
        start = process.stdout.find("apiVersion:")
        final = yaml.safe_load(process.stdout[start:]) if start >= 0 else {}
        return CloudRunJobRun(process, final, fake, tmp_path)

    return run


@pytest.fixture
def kube_api() -> Iterator[ApiServer]:
    """A Kubernetes API server of this test's own (the emulator, no CRDs), on loopback."""
    with ApiServer() as server:
        yield server


@pytest.fixture
def fake_node(kube_api: ApiServer) -> Iterator[FakeNode]:
    """The Job controller and kubelet for namespace default of ``kube_api``.

    Its exit kills and reaps every pod process it started, so none outlives
    the test, and raises what went wrong in its thread, if anything did.
    """
    with FakeNode(kube_api.url) as node:
        yield node
