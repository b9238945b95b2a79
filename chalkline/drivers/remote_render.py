"""``render`` and ``stitch`` with ``--backend cloudrun|kubernetes``: the operator's machinery,
from a laptop.

No operator and no second reconciler: the request becomes an in-memory
RenderJob (a script to render, or clips to join) whose output is a temporary
object in the bucket, and the operator's own controller (``chalkline run``
does the same) reconciles it with the Cloud Run executor, or the Kubernetes
Jobs executor on the cluster of the current kubeconfig context, until it
settles. The bucket is where the tasks, wherever they run, read and write.
Task transitions in the job's status feed the same progress display as a
local run; the video is then downloaded (atomically) to the local output, and
the staging prefix, uploaded clips and the temporary video are deleted
whatever happened.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalkline.core.errors import ChalklineError, InvalidSpec
from chalkline.core.layout import Layout, manifest_uri, run_video_uri, uploaded_clip_uri
from chalkline.core.outputs import check_video_output
from chalkline.core.records import ClipManifest, read_manifest
from chalkline.drivers.progress import Display, RemoteScene, human_bytes
from chalkline.worker.pool import EventKind, TaskEvent

if TYPE_CHECKING:
    from chalkline.operator.config import OperatorConfig
    from chalkline.operator.controller import Controller
    from chalkline.operator.status import RenderJobStatus, TaskStatus
    from chalkline.storage import Storage

#: Where runs from a laptop keep their staging, uploads and temporary video in the bucket.
PREFIX = "chalkline"
#: A task state in the RenderJob status -> what the display calls it.
_KINDS: dict[str, EventKind] = {
    "Running": "started",
    "Succeeded": "done",
    "Failed": "failed",
    "Cancelled": "cancelled",
}
#: Builds a RenderJob spec; may first put inputs into the storage (and the run's folder).
SpecBuilder = Callable[["Storage", str], dict[str, Any]]


#: How each remote backend is named to a person.
PLACES = {"cloudrun": "Cloud Run", "kubernetes": "Kubernetes"}


@dataclass(frozen=True)
class RemoteTarget:
    """Where to run: the backend, its image and the bucket for files.

    ``project``, ``region`` and ``endpoint`` are Cloud Run's; ``namespace``
    is where Kubernetes Jobs run (None: the kubeconfig context's).
    """

    project: str | None
    region: str | None
    bucket: str
    image: str | None
    endpoint: str | None = None
    service_account: str | None = None
    command: tuple[str, ...] = ("chalkline",)
    poll_interval: float = 5.0
    backend: str = "cloudrun"
    namespace: str | None = None

    @property
    def place(self) -> str:
        return PLACES[self.backend]


@dataclass(frozen=True)
class RemoteRequest:
    """A script's scenes to render into one local video."""

    script: Path
    output: Path
    scenes: tuple[str, ...]
    quality: str
    cache_dir: Path


@dataclass(frozen=True)
class RemoteStitchRequest:
    """Clips to join into one local video: local paths (uploaded first) or gs:// URIs."""

    clips: tuple[str, ...]
    output: Path
    tier: str
    cache_dir: Path


@dataclass(frozen=True)
class RemoteResult:
    output: Path
    size_bytes: int
    stitch_mode: str
    stitch_tier: str
    total_seconds: float
    place: str = "Cloud Run"


def remote_summary(result: RemoteResult) -> str:
    """The closing lines of a remote run, like a local run's :func:`stitch_summary`."""
    return (
        f"stitch mode: {result.stitch_mode} (on {result.place}, tier {result.stitch_tier})\n"
        f"wrote {result.output} ({human_bytes(result.size_bytes)}) "
        f"in {result.total_seconds:.1f} s"
    )


class RemoteJobFailed(ChalklineError):
    """The work ran remotely and failed; the message says which scene or step."""


def render_remotely(request: RemoteRequest, target: RemoteTarget, display: Display) -> RemoteResult:
    """Render ``request`` on ``target``; write the video to ``request.output`` or nothing."""
    check_video_output(request.output)
    try:
        source = request.script.read_text(encoding="utf-8")
    except OSError as err:
        raise InvalidSpec(f"cannot read script {request.script}: {err.strerror}") from None

    def spec(storage: Storage, folder: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"source": {"inline": source}, "quality": request.quality}
        if request.scenes:
            spec["scenes"] = list(request.scenes)
        return spec

    return _run_remote(spec, request.output, request.cache_dir, target, display, clips=None)


def stitch_remotely(
    request: RemoteStitchRequest,
    target: RemoteTarget,
    display: Display,
    on_upload: Callable[[Path], None] = lambda path: None,
) -> RemoteResult:
    """Join ``request.clips`` on a remote stitch Job; write ``request.output`` or nothing.

    Local clips are probed here first, so that a file that is not a video is
    refused before anything is uploaded or launched; gs:// clips are probed by
    the controller, as in the operator.
    """
    from chalkline.core.probe import probe_clip

    check_video_output(request.output)
    local = {clip: Path(clip) for clip in request.clips if not clip.startswith("gs://")}
    for path in local.values():
        probe_clip(path)

    def spec(storage: Storage, folder: str) -> dict[str, Any]:
        uris = [
            _upload(
                storage, local[clip], uploaded_clip_uri(folder, number, local[clip].name), on_upload
            )
            if clip in local
            else clip
            for number, clip in enumerate(request.clips, 1)
        ]
        return {"clips": uris, "stitch": {"tier": request.tier}}

    return _run_remote(
        spec, request.output, request.cache_dir, target, display, clips=len(request.clips)
    )


def _upload(storage: Storage, path: Path, uri: str, announce: Callable[[Path], None]) -> str:
    announce(path)
    storage.upload(path, uri)
    return uri


def _run_remote(
    build_spec: SpecBuilder,
    output: Path,
    cache_dir: Path,
    target: RemoteTarget,
    display: Display,
    clips: int | None,
) -> RemoteResult:
    """Reconcile the RenderJob ``build_spec`` describes on the target; download its video."""
    started = time.monotonic()
    if not target.bucket:
        raise InvalidSpec(f"the {target.backend} backend needs a bucket", hint="pass --bucket")
    controller = _controller(cache_dir, target)
    storage = controller.storage
    uid = str(uuid.uuid4())
    folder = Layout(storage.root_uri).run_folder(uid)
    try:
        spec = build_spec(storage, folder)
        spec.update(output=run_video_uri(folder), backend=target.backend)
        job = {
            "apiVersion": "chalkline.dev/v1alpha1",
            "kind": "RenderJob",
            "metadata": {"name": "run", "namespace": "local", "uid": uid},
            "spec": spec,
        }
        watcher = _StatusToDisplay(display, storage, clips)
        status = _run(controller, job, watcher, target.poll_interval)
        if status.phase != "Succeeded":
            raise RemoteJobFailed(_failure(status, target.place))
        storage.download(spec["output"], output)
    finally:
        try:
            storage.delete_prefix(folder)  # run_job has already deleted the staging folder
        finally:
            controller.executor.close()
    stitch = status.stitch
    return RemoteResult(
        output=output,
        size_bytes=output.stat().st_size,
        stitch_mode=(stitch.mode if stitch else "") or "?",
        stitch_tier=(stitch.tier if stitch else "") or "?",
        total_seconds=time.monotonic() - started,
        place=target.place,
    )


def _controller(cache_dir: Path, target: RemoteTarget) -> Controller:
    # Imported here: a local render never loads the operator or a cloud client.
    from chalkline.operator.wiring import build_controller

    if target.backend == "kubernetes":
        return build_controller(
            _kubernetes_config(cache_dir, target), lambda namespace, name: None, in_cluster=False
        )
    from chalkline.executors.cloudrun_jobs import ENDPOINT_ENV, PROJECT_ENV, REGION_ENV
    from chalkline.operator.config import OperatorConfig

    config = OperatorConfig(
        backend="cloudrun",
        storage=f"gs://{target.bucket}/{PREFIX}",
        cache_dir=cache_dir,
        cloudrun_image=target.image,
        cloudrun_service_account=target.service_account,
        cloudrun_command=target.command,
        cloudrun_poll_interval=target.poll_interval,
    )
    env = {
        var: value
        for var, value in (
            (PROJECT_ENV, target.project),
            (REGION_ENV, target.region),
            (ENDPOINT_ENV, target.endpoint),
        )
        if value
    }
    return build_controller(config, lambda namespace, name: None, env=env, in_cluster=False)


def _kubernetes_config(cache_dir: Path, target: RemoteTarget) -> OperatorConfig:
    """Jobs in ``target.namespace``, or the kubeconfig context's (else ``default``)."""
    from chalkline.operator.config import OperatorConfig

    return OperatorConfig(
        backend="kubernetes",
        storage=f"gs://{target.bucket}/{PREFIX}",
        cache_dir=cache_dir,
        kubernetes_image=target.image,
        kubernetes_command=target.command,
        kubernetes_service_account=target.service_account,
        kubernetes_namespace=target.namespace or _context_namespace(),
    )


def _context_namespace() -> str:
    """The namespace of the current kubeconfig context, as kubectl would use it."""
    from kubernetes import config

    try:
        _, context = config.list_kube_config_contexts()
    except (config.ConfigException, OSError):
        return "default"
    return str((context or {}).get("context", {}).get("namespace") or "default")


def _run(
    controller: Controller, job: dict[str, Any], display: _StatusToDisplay, poll: float
) -> RenderJobStatus:
    """Reconcile ``job`` until it settles; its final status."""
    from chalkline.operator.standalone import run_job
    from chalkline.operator.status import RenderJobStatus

    # Status changes only when the executor has something new: poll no faster than it.
    interval = min(1.0, max(0.05, poll))
    done = run_job(controller, job, display.on_status, lambda event: None, poll_interval=interval)
    return RenderJobStatus.from_dict(done["status"])


class _StatusToDisplay:
    """Turns each task's state changes in the RenderJob status into display events."""

    def __init__(self, display: Display, storage: Storage, clips: int | None) -> None:
        self.display = display
        self.storage = storage
        self.clips = clips  # a stitch of ready clips has no tasks to count them by
        self.states: dict[int, str] = {}
        self.shown = False
        self.stitching = False

    def on_status(self, status: Mapping[str, Any]) -> None:
        from chalkline.operator.status import RenderJobStatus

        view = RenderJobStatus.from_dict(status)
        tasks = view.tasks
        if tasks and not self.shown:
            self.shown = True
            self.display.show_tasks([RemoteScene(t.index, t.scene) for t in tasks])
        for task in tasks:
            self._follow(task)
        if view.phase == "Stitching" and not self.stitching:
            self.stitching = True
            joined = sum(not t.empty for t in tasks) if self.clips is None else self.clips
            self.display.stitch_start(joined)
        if view.phase == "Succeeded" and self.stitching:
            self.display.stitch_progress(1.0)

    def _follow(self, task: TaskStatus) -> None:
        index, state = task.index, task.state
        before = self.states.get(index, "Pending")
        self.states[index] = state
        if state == before or state not in _KINDS:
            return
        if state != "Running" and before == "Pending":
            self._event(task, "started")  # finished between two polls
        manifest = self._manifest(task) if state == "Succeeded" else None
        self._event(task, _KINDS[state], manifest, task.message or None)

    def _event(
        self,
        task: TaskStatus,
        kind: EventKind,
        manifest: ClipManifest | None = None,
        error: str | None = None,
    ) -> None:
        event = TaskEvent(task.index, task.scene, kind, 0, manifest, error)
        self.display.task(event)

    def _manifest(self, task: TaskStatus) -> ClipManifest | None:
        try:
            return read_manifest(self.storage, manifest_uri(task.clip))
        except (ChalklineError, ValueError, TypeError):
            return None


def _failure(status: RenderJobStatus, place: str) -> str:
    failed = [t for t in status.tasks if t.state == "Failed"]
    conditions = status.conditions or [{}]
    message = str(conditions[-1].get("message") or "the render failed")
    if failed:
        names = ", ".join(t.scene for t in failed)
        return f"scene(s) {names} failed on {place}: {message}"
    reason = conditions[-1].get("reason", "Failed")
    return f"the run on {place} failed ({reason}): {message}"
