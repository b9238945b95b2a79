"""``chalkline render --backend cloudrun``: the operator's machinery, driven from a laptop.

No cluster and no second reconciler: the script becomes an in-memory RenderJob
whose output is a temporary object in the bucket, and the operator's own
controller (``chalkline run`` does the same) reconciles it with the Cloud Run
executor until it settles. Task transitions in the job's status feed the
same progress display as a local render; the video is then downloaded
(atomically) to the local output, and the staging prefix and the temporary
video are deleted whatever happened.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalkline.errors import ChalklineError, InvalidSpec
from chalkline.outputs import check_video_output
from chalkline.progress import Display, PlannedScene
from chalkline.worker.pool import EventKind, TaskEvent
from chalkline.worker.task import ClipManifest

if TYPE_CHECKING:
    from chalkline.operator.controller import Controller
    from chalkline.storage import Storage

#: Where a render's staging and temporary video live inside the bucket.
PREFIX = "chalkline"
#: A task state in the RenderJob status -> what the display calls it.
_KINDS: dict[str, EventKind] = {
    "Running": "started",
    "Succeeded": "done",
    "Failed": "failed",
    "Cancelled": "cancelled",
}


@dataclass(frozen=True)
class CloudRunTarget:
    """Where to run: Cloud Run project, region and image, and the bucket for files."""

    project: str | None
    region: str | None
    bucket: str
    image: str | None
    endpoint: str | None = None
    service_account: str | None = None
    command: tuple[str, ...] = ("chalkline",)
    poll_interval: float = 5.0


@dataclass(frozen=True)
class RemoteRequest:
    script: Path
    output: Path
    scenes: tuple[str, ...]
    quality: str
    cache_dir: Path


@dataclass(frozen=True)
class RemoteResult:
    output: Path
    size_bytes: int
    stitch_mode: str
    total_seconds: float


class RemoteRenderFailed(ChalklineError):
    """The render ran on Cloud Run and failed; the message says which scene or step."""


def render_on_cloudrun(
    request: RemoteRequest, target: CloudRunTarget, display: Display
) -> RemoteResult:
    """Render ``request`` on Cloud Run; write the video to ``request.output`` or nothing."""
    started = time.monotonic()
    check_video_output(request.output)
    if not target.bucket:
        raise InvalidSpec("the cloudrun backend needs a bucket", hint="pass --bucket")
    job = _render_job(request, target.bucket)
    controller = _controller(request, target)
    storage = controller.storage
    video = job["spec"]["output"]
    uid = job["metadata"]["uid"]
    try:
        final = _run(controller, job, _StatusToDisplay(display, storage), target.poll_interval)
        status = final["status"]
        if status.get("phase") != "Succeeded":
            raise RemoteRenderFailed(_failure(status))
        storage.download(video, request.output)
    finally:
        try:
            _delete_leftovers(storage, uid)
        finally:
            controller.executor.close()
    return RemoteResult(
        output=request.output,
        size_bytes=request.output.stat().st_size,
        stitch_mode=str((status.get("stitch") or {}).get("mode") or "?"),
        total_seconds=time.monotonic() - started,
    )


def _render_job(request: RemoteRequest, bucket: str) -> dict[str, Any]:
    try:
        source = request.script.read_text(encoding="utf-8")
    except OSError as err:
        raise InvalidSpec(f"cannot read script {request.script}: {err.strerror}") from None
    uid = str(uuid.uuid4())
    spec: dict[str, Any] = {
        "source": {"inline": source},
        "quality": request.quality,
        "output": f"gs://{bucket}/{PREFIX}/renders/{uid}/video.mp4",
        "backend": "cloudrun",
    }
    if request.scenes:
        spec["scenes"] = list(request.scenes)
    return {
        "apiVersion": "chalkline.dev/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "render", "namespace": "local", "uid": uid},
        "spec": spec,
    }


def _controller(request: RemoteRequest, target: CloudRunTarget) -> Controller:
    # Imported here: a local render never loads the operator or the Cloud Run client.
    from chalkline.executors.cloudrun_jobs import ENDPOINT_ENV, PROJECT_ENV, REGION_ENV
    from chalkline.operator.config import OperatorConfig
    from chalkline.operator.wiring import build_controller

    config = OperatorConfig(
        backend="cloudrun",
        storage=f"gs://{target.bucket}/{PREFIX}",
        cache_dir=request.cache_dir,
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
    return build_controller(config, lambda namespace, name: None, env=env)


def _run(
    controller: Controller, job: dict[str, Any], display: _StatusToDisplay, poll: float
) -> dict[str, Any]:
    from chalkline.operator.standalone import run_job

    # Status changes only when the executor has something new: poll no faster than it.
    interval = min(1.0, max(0.05, poll))
    return run_job(controller, job, display.on_status, lambda event: None, poll_interval=interval)


class _StatusToDisplay:
    """Turns each task's state changes in the RenderJob status into display events."""

    def __init__(self, display: Display, storage: Storage) -> None:
        self.display = display
        self.storage = storage
        self.states: dict[int, str] = {}
        self.planned = False
        self.stitching = False

    def on_status(self, status: Mapping[str, Any]) -> None:
        tasks = list(status.get("tasks") or [])
        if tasks and not self.planned:
            self.planned = True
            self.display.plan([PlannedScene(t["index"], t["scene"]) for t in tasks])
        for task in tasks:
            self._follow(task)
        if status.get("phase") == "Stitching" and not self.stitching:
            self.stitching = True
            self.display.stitch_start(sum(not t.get("empty") for t in tasks))
        if status.get("phase") == "Succeeded" and self.stitching:
            self.display.stitch_progress(1.0)

    def _follow(self, task: Mapping[str, Any]) -> None:
        index, state = int(task["index"]), str(task["state"])
        before = self.states.get(index, "Pending")
        self.states[index] = state
        if state == before or state not in _KINDS:
            return
        if state != "Running" and before == "Pending":
            self._event(task, "started")  # finished between two polls
        manifest = self._manifest(task) if state == "Succeeded" else None
        self._event(task, _KINDS[state], manifest, task.get("message") or None)

    def _event(
        self,
        task: Mapping[str, Any],
        kind: EventKind,
        manifest: ClipManifest | None = None,
        error: str | None = None,
    ) -> None:
        event = TaskEvent(int(task["index"]), str(task["scene"]), kind, 0, manifest, error)
        self.display.task(event)

    def _manifest(self, task: Mapping[str, Any]) -> ClipManifest | None:
        uri = str(task["clip"]).removesuffix(".mp4") + ".json"
        try:
            return ClipManifest.from_dict(json.loads(self.storage.read_bytes(uri)))
        except (ChalklineError, ValueError, TypeError):
            return None


def _delete_leftovers(storage: Storage, uid: str) -> None:
    """The temporary video; ``run_job`` has already deleted the job's staging folder."""
    storage.delete_prefix(storage.join("renders", uid))


def _failure(status: Mapping[str, Any]) -> str:
    failed = [t for t in status.get("tasks") or [] if t.get("state") == "Failed"]
    conditions = status.get("conditions") or [{}]
    message = str(conditions[-1].get("message") or "the render failed")
    if failed:
        names = ", ".join(t["scene"] for t in failed)
        return f"scene(s) {names} failed on Cloud Run: {message}"
    return f"the render failed on Cloud Run ({conditions[-1].get('reason', 'Failed')}): {message}"
