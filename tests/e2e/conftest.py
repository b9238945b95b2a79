"""Fixtures for the end-to-end tests: an API server, the real operator, a user.

Every test gets its own API server (the emulator on 127.0.0.1 at a free port,
with crds/renderjob.yaml installed), a kubeconfig for it in $KUBECONFIG, and
its own storage and Manim cache. The operator logs in the way it does in a
cluster without a service account: through the current kubeconfig, for Kopf
and for the ConfigMap reader alike. Nothing may outlive a test: no thread, no
render process, no server (fake-gcs-server, ``gcs_bucket``, is tests/conftest.py's
and per test too). The world these fixtures build is tests/support/harness.py.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from chalkline.operator.config import OperatorConfig
from chalkline.storage.files import uri_of
from tests.support.admission import load_crd
from tests.support.cloudrun_fake import CloudRunFake
from tests.support.harness import ApiServer, Cluster, Operator, live_processes, wait_until
from tests.support.kube_node import FakeNode
from tests.support.scenes import Scenes


@pytest.fixture
def api_server() -> Iterator[ApiServer]:
    with ApiServer(crds=[load_crd()]) as server:
        yield server


@pytest.fixture
def kubeconfig(api_server: ApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$KUBECONFIG names the API server, for every client in this process.

    The ``kubernetes`` client reads $KUBECONFIG once, at import, so its copy
    is pointed there too: as if the process had started with the variable set.
    """
    path = api_server.write_kubeconfig(tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    return path


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    """The operator's storage root (file://): staging folders and published videos."""
    return tmp_path / "storage"


@pytest.fixture
def operator_config(kubeconfig: Path, storage: Path, tmp_path: Path) -> OperatorConfig:
    """Two render slots, a quick reconcile loop, and this test's folders."""
    return OperatorConfig(
        storage=uri_of(storage),
        cache_dir=tmp_path / "manim-cache",
        workers=2,
        poll_interval=0.3,
    )


@pytest.fixture
def operator(operator_config: OperatorConfig) -> Iterator[Operator]:
    """The real operator for namespace default, running; a test may kill and restart it."""
    yield from _running(Operator(operator_config, namespaces=("default",)))


@pytest.fixture
def operator_for_all_namespaces(operator_config: OperatorConfig) -> Iterator[Operator]:
    """The real operator as manifests/base runs it: ``--all-namespaces``."""
    yield from _running(Operator(operator_config, namespaces=()))


def _running(operator: Operator) -> Iterator[Operator]:
    operator.start()
    yield operator
    if operator.running:
        operator.stop()


@pytest.fixture
def api_client(api_server: ApiServer) -> Iterator[kubernetes.client.ApiClient]:
    """The real ``kubernetes`` client, talking to the API server."""
    with kubernetes.client.ApiClient(kubernetes.client.Configuration(api_server.url)) as client:
        yield client


@pytest.fixture
def cluster(api_client: kubernetes.client.ApiClient) -> Cluster:
    """A user working in namespace default."""
    return Cluster(api_client, namespace="default")


@pytest.fixture
def cloudrun(monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudRunFake]:
    """The Cloud Run Admin API fake, named by ``CHALKLINE_CLOUDRUN_*`` for the operator."""
    with CloudRunFake() as fake:
        monkeypatch.setenv("CHALKLINE_CLOUDRUN_ENDPOINT", fake.url)
        monkeypatch.setenv("CHALKLINE_CLOUDRUN_PROJECT", "p")
        monkeypatch.setenv("CHALKLINE_CLOUDRUN_REGION", "r")
        yield fake


@pytest.fixture
def fake_node(api_server: ApiServer) -> Iterator[FakeNode]:
    """The Job controller and kubelet for namespace default (tests/support/kube_node.py).

    The kubernetes backend's Jobs run there: each pod's command as a process of
    this machine, with this process's environment under the pod's env. Its exit
    kills and reaps every pod process, so none outlives the test.
    """
    with FakeNode(api_server.url) as node:
        yield node


@pytest.fixture
def scenes(tmp_path: Path) -> Scenes:
    """The instrumented script (tests/support/scenes.py), logging into this test's folder."""
    return Scenes(tmp_path / "constructs.log", tmp_path / "gate")


@pytest.fixture(autouse=True)
def nothing_left_running() -> Iterator[None]:
    """After a test, its threads and render processes are gone (within seconds)."""
    before = set(threading.enumerate())
    yield
    wait_until(lambda: not new_threads(before), 10, "the test's threads to end", every=0.2)
    wait_until(lambda: not stray_processes(), 10, "the test's render processes to end")


def new_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    """Live threads that were not there before, once garbage is collected.

    Kopf's handler thread pool ends when its settings are collected, which a
    killed operator's pool can be only after its orphaned handler returns.
    """
    gc.collect()
    return [t for t in threading.enumerate() if t not in before and t.is_alive()]


def stray_processes() -> list[int]:
    """Live processes started by this one, apart from multiprocessing's helpers.

    The fork server (the warm parent of render tasks) and the resource tracker
    stay for the session; every task the fork server forks must be gone.
    """
    parents = live_processes()
    strays: list[int] = []
    for child in [pid for pid, parent in parents.items() if parent == os.getpid()]:
        if _is_multiprocessing_helper(child):
            strays += [pid for pid, parent in parents.items() if parent == child]
        else:
            strays.append(child)
    return strays


def _is_multiprocessing_helper(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"from multiprocessing." in command
