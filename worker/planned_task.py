"""Render one planned task of a remote execution: read the plan, render, upload.

A Cloud Run task knows only its plan's URI and its ``CLOUD_RUN_TASK_INDEX``.
It fetches the script into a scratch folder, renders its scene there with the
same in-process renderer the local pool uses, and uploads the clip and its
manifest to the URIs the plan names (the clip is rendered under the planned
name, so the manifest needs no rewriting). A retried attempt of a task that
already finished finds both objects and does nothing, so retries never
re-render.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from chalkline.core.errors import ChalklineError, SourceNotFound
from chalkline.core.layout import basename, failure_uri, manifest_uri
from chalkline.core.records import (
    ClipManifest,
    PlannedScene,
    RenderPlan,
    read_manifest,
    read_render_plan,
    write_manifest,
)
from chalkline.storage import Storage, storage_for
from chalkline.worker.render import render_task
from chalkline.worker.task import RenderTask

#: The most of an error a failed task stores (a status message should stay readable).
MAX_FAILURE_CHARS = 4000
#: Where a Kubernetes pod's termination message goes (the kubelet creates the file;
#: the pod spec's terminationMessagePath, default /dev/termination-log).
TERMINATION_LOG_ENV = "CHALKLINE_TERMINATION_LOG"
DEFAULT_TERMINATION_LOG = "/dev/termination-log"
#: The kubelet reads at most 4096 bytes of it.
MAX_TERMINATION_BYTES = 4096


def run_planned_task(plan_uri: str, position: int, scratch: Path) -> ClipManifest:
    """Do task ``position`` of the plan at ``plan_uri``, using ``scratch`` for files.

    Returns the manifest stored beside the clip, whether this call rendered it
    or an earlier attempt did.
    """
    storage = storage_for(plan_uri)
    plan = read_render_plan(storage, plan_uri)
    planned = plan.task(position)
    done = _finished_manifest(storage, planned)
    if done is not None:
        return done
    try:
        return _render_planned(storage, plan, plan_uri, planned, scratch)
    except ChalklineError as err:
        _leave_failure(storage, planned, err)
        raise


def _render_planned(
    storage: Storage, plan: RenderPlan, plan_uri: str, planned: PlannedScene, scratch: Path
) -> ClipManifest:
    script = _fetch_script(storage, plan, plan_uri, scratch)
    task = RenderTask(
        index=planned.index,
        script=script,
        scene=planned.scene,
        quality=plan.quality,
        output_dir=scratch / "out",
        media_dir=scratch / "media",
        clip_name=basename(planned.clip),
        use_cache=False,
    )
    task.output_dir.mkdir(parents=True, exist_ok=True)
    manifest = render_task(task)
    if manifest.has_clip:
        storage.upload(task.clip_path, planned.clip)
    write_manifest(storage, manifest_uri(planned.clip), manifest)
    return manifest


def _leave_failure(storage: Storage, planned: PlannedScene, err: ChalklineError) -> None:
    """Store the error beside the clip for the executor to report; never mask ``err``.

    In a Kubernetes pod it also becomes the termination message, so the pod's
    status names the scene's error even when storage was what failed.
    """
    text = str(err)
    if len(text) > MAX_FAILURE_CHARS:
        text = "..." + text[-MAX_FAILURE_CHARS:]  # a traceback's end says the most
    with contextlib.suppress(ChalklineError, OSError):
        storage.write_bytes(failure_uri(planned.clip), text.encode())
    _write_termination_message(f"scene {planned.scene}: {text}")


def _write_termination_message(text: str) -> None:
    """Write ``text``'s end where the kubelet reads it, only when that file is there."""
    path = Path(os.environ.get(TERMINATION_LOG_ENV) or DEFAULT_TERMINATION_LOG)
    if not path.is_file():
        return  # not in a pod (or not one that reads it): nothing to tell
    data = text.encode()[-MAX_TERMINATION_BYTES:]
    with contextlib.suppress(OSError):
        path.write_bytes(data)


def _finished_manifest(storage: Storage, planned: PlannedScene) -> ClipManifest | None:
    """The stored manifest when an earlier attempt finished this task, else None.

    The manifest is uploaded after the clip, so its presence means the clip is
    complete too (unless the scene played nothing and has no clip at all).
    """
    uri = manifest_uri(planned.clip)
    if not storage.exists(uri):
        return None
    manifest = read_manifest(storage, uri)
    if manifest.has_clip and not storage.exists(planned.clip):
        return None
    return manifest


def _fetch_script(storage: Storage, plan: RenderPlan, plan_uri: str, scratch: Path) -> Path:
    """Download the script, keeping its file name: Manim names the module after it."""
    target = scratch / "script" / basename(plan.script)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        storage.download(plan.script, target)
    except SourceNotFound:
        raise SourceNotFound(
            f"script {plan.script} named by the plan {plan_uri} does not exist",
            hint="the operator stages the script next to the plan; was the job's "
            "staging folder cleaned up while the execution ran?",
        ) from None
    return target
