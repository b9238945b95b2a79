"""Render one planned task of a remote execution: read the plan, render, upload.

A Cloud Run task knows only its plan's URI and its ``CLOUD_RUN_TASK_INDEX``.
It fetches the script into a scratch folder, renders its scene there with the
same in-process renderer the local pool uses, and uploads the clip and its
manifest to the URIs the plan names. A retried attempt of a task that already
finished finds both objects and does nothing, so retries never re-render.
"""

from __future__ import annotations

import contextlib
import dataclasses
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlparse

from chalkline.errors import ChalklineError, InvalidSpec, SourceNotFound
from chalkline.plans import PlannedScene, RenderPlan, read_render_plan
from chalkline.storage import Storage, open_storage
from chalkline.worker.render import render_task
from chalkline.worker.task import (
    ClipManifest,
    RenderTask,
    failure_uri,
    manifest_uri,
    read_manifest,
)

#: The most of an error a failed task stores (a status message should stay readable).
MAX_FAILURE_CHARS = 4000


def storage_for(uri: str) -> Storage:
    """A storage that can reach ``uri``: its bucket for gs://, the filesystem for file://."""
    scheme = urlparse(uri).scheme
    if scheme == "gs":
        from chalkline.storage.gcs import split_uri

        return open_storage(f"gs://{split_uri(uri)[0]}")
    if scheme == "file":
        return open_storage("file:///")
    raise InvalidSpec(
        f"{uri!r} is not a gs:// or file:// URI", hint="use gs://BUCKET/PATH or file:///PATH"
    )


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
        use_cache=False,
    )
    task.output_dir.mkdir(parents=True, exist_ok=True)
    manifest = render_task(task)
    if manifest.has_clip:
        manifest = dataclasses.replace(manifest, clip=_name_of(planned.clip))
        storage.upload(task.clip_path, planned.clip)
    storage.write_bytes(manifest_uri(planned.clip), manifest.to_json().encode())
    return manifest


def _leave_failure(storage: Storage, planned: PlannedScene, err: ChalklineError) -> None:
    """Store the error beside the clip for the executor to report; never mask ``err``."""
    text = str(err)
    if len(text) > MAX_FAILURE_CHARS:
        text = "..." + text[-MAX_FAILURE_CHARS:]  # a traceback's end says the most
    with contextlib.suppress(ChalklineError, OSError):
        storage.write_bytes(failure_uri(planned.clip), text.encode())


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
    target = scratch / "script" / _name_of(plan.script)
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


def _name_of(uri: str) -> str:
    return posixpath.basename(unquote(urlparse(uri).path))
