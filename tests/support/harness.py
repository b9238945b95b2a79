"""The end-to-end world: an API server, the real operator, and a user's client.

Each server runs on a thread and event loop of its own:

- the API server, so tests (and kubectl) may call it with blocking clients
  without freezing it;
- the operator, because ``kopf.operator()`` cancels, at exit, every task of
  the loop it runs in (a test's loop would lose its own tasks), and because a
  killed operator must die alone.

Shared by the end-to-end tests' fixtures (tests/e2e/conftest.py) and the
kubectl walkthrough (tests/e2e/walkthrough.py).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import kmock
import kopf
import kubernetes
import yaml

from chalkline.cli.operator_cmd import run_operator
from chalkline.operator.config import OperatorConfig
from chalkline.operator.controller import Controller
from chalkline.operator.handlers import GROUP, PLURAL, VERSION, build_registry
from chalkline.operator.kube import config_map_reader
from chalkline.operator.wiring import build_controller
from tests.support.kube_emulator import ApiServerEmulator
from tests.support.scenes import Scenes

T = TypeVar("T")
Obj = dict[str, Any]

ROOT = Path(__file__).resolve().parents[2]


def wait_until(check: Callable[[], T | None], timeout: float, what: str, every: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def live_processes() -> dict[int, int]:
    """Every process of this machine that has not ended: pid -> parent pid."""
    found = {
        int(entry.name): _parent_if_alive(entry)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
    }
    return {pid: parent for pid, parent in found.items() if parent is not None}


def alive(pid: int) -> bool:
    return _parent_if_alive(Path(f"/proc/{pid}")) is not None


def _parent_if_alive(proc: Path) -> int | None:
    try:
        stat = (proc / "stat").read_text()
    except OSError:
        return None  # gone
    state, parent = stat.rsplit(")", 1)[1].split()[:2]
    return None if state in ("Z", "X") else int(parent)  # a zombie has ended already


# --- the API server ------------------------------------------------------------------


class ApiServer:
    """The emulator on 127.0.0.1, at a port the OS picks, with CRDs installed."""

    def __init__(self, crds: Sequence[Mapping[str, Any]] = ()) -> None:
        self.crds = list(crds)
        self.url = ""
        self._thread = threading.Thread(target=self._main, name="api-server", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def __enter__(self) -> ApiServer:
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"the API server did not start: {self._error!r}")
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)
        assert not self._thread.is_alive(), "the API server did not stop"

    def write_kubeconfig(self, path: Path) -> Path:
        """A kubeconfig whose current context is this server, namespace default."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "emulator",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "emulator", "user": {}}],
            "contexts": [
                {
                    "name": "emulator",
                    "context": {"cluster": "emulator", "user": "emulator", "namespace": "default"},
                }
            ],
        }
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:
            self._error = err
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        async with (
            ApiServerEmulator() as emulator,
            kmock.Server(emulator, host="127.0.0.1") as server,
        ):
            self.url = str(server.url).rstrip("/")
            for crd in self.crds:  # the way `kubectl apply -f crds/renderjob.yaml` installs it
                response = await emulator.post(
                    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd
                )
                assert response.status == 201, await response.text()
                response.release()
            self._ready.set()
            await self._stopping.wait()
            await emulator.close_watches()


def use_kubeconfig(path: Path) -> None:
    """Point every client of this process at ``path``, as ``KUBECONFIG=path`` at start would.

    The ``kubernetes`` client reads $KUBECONFIG once, when it is imported, and
    both Kopf's standard login and the operator's ConfigMap reader go through
    it; so the variable is set and the client's copy of it, too.
    """
    os.environ["KUBECONFIG"] = str(path)
    kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(path)


# --- the operator --------------------------------------------------------------------


class Operator:
    """``chalkline operator``'s parts, run in a thread: start, stop, kill, start again.

    Each start builds what the command builds (the controller with its local
    executor, the Kopf registry) and logs in through the current kubeconfig,
    so a restarted operator shares only the API server and storage with the
    one before it, as a new pod would.
    """

    def __init__(self, config: OperatorConfig, namespaces: tuple[str, ...] = ("default",)) -> None:
        self.config = config
        self.namespaces = namespaces
        self._run: _Run | None = None

    @property
    def running(self) -> bool:
        return self._run is not None

    def start(self) -> None:
        assert self._run is None, "the operator is already running"
        controller = build_controller(self.config, config_map_reader())
        registry = build_registry(controller, self.config.poll_interval)
        run = _Run(controller)
        run.thread = threading.Thread(
            target=run.main,
            args=(registry, self.namespaces),
            name="chalkline-operator",
            daemon=True,  # a hung operator must not hang the test run at exit
        )
        self._run = run
        run.thread.start()
        if not run.ready_flag.wait(30):
            self.kill()
            raise RuntimeError(f"the operator did not start: {run.error!r}")

    def stop(self) -> None:
        """Stop as on SIGTERM: Kopf finishes what it is doing and exits."""
        run = self._take()
        run.stop_flag.set()
        run.join()
        run.controller.executor.close()
        assert run.error is None, f"the operator failed: {run.error!r}"

    def kill(self) -> None:
        """Die mid-flight as on SIGKILL: Kopf stops where it is, renders die with it.

        Nothing is written on the way out; the next operator finds whatever
        the API server and storage held at that moment.
        """
        run = self._take()
        if run.loop is not None and run.task is not None:
            run.loop.call_soon_threadsafe(run.task.cancel)
        run.controller.executor.close()  # its pool kills the running renders
        run.join()

    def _take(self) -> _Run:
        assert self._run is not None, "the operator is not running"
        run, self._run = self._run, None
        return run


@dataclass
class _Run:
    """One run of the operator: its controller, thread, loop and flags."""

    controller: Controller
    stop_flag: threading.Event = field(default_factory=threading.Event)
    ready_flag: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    loop: asyncio.AbstractEventLoop | None = None
    task: asyncio.Task[None] | None = None
    error: BaseException | None = None

    def main(self, registry: kopf.OperatorRegistry, namespaces: tuple[str, ...]) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        try:
            self.task = loop.create_task(
                run_operator(registry, namespaces, None, stop=self.stop_flag, ready=self.ready_flag)
            )
            loop.run_until_complete(self.task)
        except asyncio.CancelledError:
            pass  # killed
        except BaseException as err:
            self.error = err
        finally:
            # Kopf waits for a threading.Event stop flag in a thread of this loop's
            # executor; after a kill nobody sets it, and that thread would never end.
            self.stop_flag.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join(30)
        assert not self.thread.is_alive(), "the operator did not stop"


# --- a user's client -----------------------------------------------------------------


class Cluster:
    """What a user does with kubectl, done with the real ``kubernetes`` client."""

    def __init__(self, client: kubernetes.client.ApiClient, namespace: str = "default") -> None:
        self.namespace = namespace
        self._objects = kubernetes.client.CustomObjectsApi(client)
        self._core = kubernetes.client.CoreV1Api(client)

    def create(self, manifest: Obj) -> Obj:
        created = self._objects.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, manifest
        )
        assert isinstance(created, dict)
        return created

    def get(self, name: str) -> Obj | None:
        try:
            found = self._objects.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name
            )
        except kubernetes.client.ApiException as err:
            if err.status == 404:
                return None
            raise
        assert isinstance(found, dict)
        return found

    def patch_spec(self, name: str, changes: Obj) -> Obj:
        patched = self._objects.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, {"spec": changes}
        )
        assert isinstance(patched, dict)
        return patched

    def delete(self, name: str) -> None:
        self._objects.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)

    def create_config_map(self, name: str, data: Mapping[str, str]) -> None:
        config_map = kubernetes.client.V1ConfigMap(
            metadata=kubernetes.client.V1ObjectMeta(name=name), data=dict(data)
        )
        self._core.create_namespaced_config_map(self.namespace, config_map)

    def events(self, name: str) -> list[Obj]:
        """Events about the object ``name``, oldest first (what ``kubectl describe`` shows)."""
        found = self._core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        )
        events = [event.to_dict(serialize=True) for event in found.items]
        return sorted(events, key=lambda e: (e["firstTimestamp"], e["metadata"]["name"]))

    def wait_for(
        self, name: str, check: Callable[[Obj], bool], what: str, timeout: float = 60
    ) -> Obj:
        """Poll the object until ``check`` holds; the failure shows its last status."""
        last: Obj | None = None

        def current() -> Obj | None:
            nonlocal last
            last = self.get(name)
            return last if last is not None and check(last) else None

        try:
            return wait_until(current, timeout, f"{name}: {what}", every=0.1)
        except AssertionError as err:
            raise AssertionError(f"{err}; last status: {(last or {}).get('status')}") from None

    def wait_for_condition(self, name: str, status: str, timeout: float = 60) -> Obj:
        """Wait until the Succeeded condition has ``status`` for the current generation."""
        return self.wait_for(
            name,
            lambda obj: (
                succeeded(obj).get("status") == status
                and succeeded(obj).get("observedGeneration") == obj["metadata"]["generation"]
            ),
            f"Succeeded={status}",
            timeout,
        )

    def wait_gone(self, name: str, timeout: float = 15) -> None:
        wait_until(lambda: self.get(name) is None, timeout, f"{name} to be gone", every=0.1)


def succeeded(obj: Obj) -> Obj:
    """The Succeeded condition of a RenderJob, or {} before it has one."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Succeeded"), {})


def renderjob(name: str, **spec: Any) -> Obj:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RenderJob",
        "metadata": {"name": name},
        "spec": spec,
    }


def job_from(scenes: Scenes, name: str, *chosen: str, **spec: Any) -> Obj:
    """A RenderJob of the instrumented script (tests/support/scenes.py), scenes ``chosen``."""
    return renderjob(name, source={"inline": scenes.script}, scenes=list(chosen), **spec)


def task_state(job: Mapping[str, Any], scene: str) -> str | None:
    """The state of ``scene``'s task in the RenderJob's status, or None before it has one."""
    tasks = (job.get("status") or {}).get("tasks") or []
    return next((t["state"] for t in tasks if t["scene"] == scene), None)


def events_through(cluster: Cluster, name: str, reason: str) -> list[Obj]:
    """The Events about ``name``, once the one with ``reason`` is among them.

    Kopf posts Events in order but on its own, shortly after the status
    change they go with; so a test waits for the last one it expects.
    """

    def posted() -> list[Obj] | None:
        events = cluster.events(name)
        return events if reason in [e["reason"] for e in events] else None

    return wait_until(posted, 10, f"a {reason} Event about {name}")


def reasons_posted(cluster: Cluster, name: str, reason: str) -> list[tuple[str, str]]:
    """(type, reason) of the Events about ``name``, once one with ``reason`` is among them."""
    return [(e["type"], e["reason"]) for e in events_through(cluster, name, reason)]
