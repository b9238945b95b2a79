"""``chalkline run``: reconcile a RenderJob manifest on this machine, no cluster.

The same controller, reconciler and executor as the operator; the manifest's
ConfigMaps stand in for the API server's, and Events are printed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from chalkline.core.errors import InvalidSpec
from chalkline.core.layout import JobRef
from chalkline.operator.actions import Emit
from chalkline.operator.controller import Controller

KIND = "RenderJob"
API_VERSION = "chalkline.dev/v1alpha1"


def split_manifest(
    documents: Iterable[Any],
) -> tuple[dict[str, Any], dict[tuple[str, str], dict[str, str]]]:
    """The one RenderJob of a manifest, and its ConfigMaps by (namespace, name)."""
    jobs: list[dict[str, Any]] = []
    config_maps: dict[tuple[str, str], dict[str, str]] = {}
    for doc in documents:
        if not doc:
            continue
        if not isinstance(doc, dict):
            raise InvalidSpec("every document of the manifest must be an object")
        kind = doc.get("kind")
        if kind == KIND:
            jobs.append(doc)
        elif kind == "ConfigMap":
            meta = doc.get("metadata") or {}
            key = (meta.get("namespace", "default"), meta.get("name", ""))
            config_maps[key] = dict(doc.get("data") or {})
        else:
            raise InvalidSpec(
                f"unexpected kind {kind!r}: a manifest holds one RenderJob and ConfigMaps"
            )
    if len(jobs) != 1:
        raise InvalidSpec(f"the manifest must hold exactly one RenderJob (found {len(jobs)})")
    job = jobs[0]
    if job.get("apiVersion") != API_VERSION:
        raise InvalidSpec(f"apiVersion must be {API_VERSION} (got {job.get('apiVersion')!r})")
    if not (job.get("metadata") or {}).get("name"):
        raise InvalidSpec("metadata.name is required")
    return job, config_maps


def run_job(
    controller: Controller,
    job: dict[str, Any],
    on_status: Callable[[Mapping[str, Any]], None],
    on_event: Callable[[Emit], None],
    poll_interval: float = 0.25,
) -> dict[str, Any]:
    """Reconcile ``job`` until it succeeds or fails; return it with its status."""
    meta = job.setdefault("metadata", {})
    meta.setdefault("namespace", "default")
    # A stable uid keeps Manim's per-scene cache warm across runs of one manifest.
    meta.setdefault(
        "uid",
        str(uuid.uuid5(uuid.NAMESPACE_URL, f"chalkline-run/{meta['namespace']}/{meta['name']}")),
    )
    meta.setdefault("generation", 1)
    meta.setdefault("creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    ref = JobRef(meta["namespace"], meta["name"], meta["uid"], int(meta["generation"]))
    status: dict[str, Any] = dict(job.get("status") or {})
    try:
        while True:
            new = controller.step(ref, job.get("spec") or {}, status, on_event)
            if new != status:
                status = new
                on_status(status)
            if status.get("phase") in ("Succeeded", "Failed"):
                break
            time.sleep(poll_interval)
    finally:
        # Nothing else will ever delete this run's intermediates: stop and remove them.
        controller.clean_up(ref, status)
    job["status"] = status
    return job
