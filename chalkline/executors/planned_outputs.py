"""What a remote executor reads back of its planned tasks: the plan, each task's manifest and error.

Cloud Run executions and Kubernetes Jobs both run ``chalkline worker --plan``:
the executor writes a render plan, the platform reports only which task
indexes finished, and the rest comes from storage, where the worker left
each clip's manifest (or its error) beside the clip. Plans and manifests
never change once written, so they are read once per execution and kept.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from chalkline.core.errors import ChalklineError, InvalidSpec
from chalkline.core.layout import failure_uri, manifest_uri
from chalkline.core.records import (
    ClipManifest,
    PlannedScene,
    RenderPlan,
    StitchOrder,
    read_manifest,
    read_plan,
)
from chalkline.executors.base import RenderWork
from chalkline.storage.base import Storage


def render_plan_of(work: Sequence[RenderWork], unit: str) -> RenderPlan:
    """The plan for ``work``, which one ``unit`` (an execution, a Job) renders.

    One unit runs one script at one quality: its tasks differ only by scene.
    """
    quality = _one_of(work, "quality", unit)
    return RenderPlan(
        script=_one_of(work, "script_uri", unit),
        quality=quality,
        tasks=tuple(PlannedScene(w.index, w.scene, w.clip_uri) for w in work),
    )


class PlannedOutputs:
    """Reads, and keeps, the plans and manifests of the executions one executor follows."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._plans: dict[str, RenderPlan | StitchOrder] = {}
        self._manifests: dict[tuple[str, int], ClipManifest] = {}
        self._lock = threading.Lock()

    def plan(self, handle: str, uri: str) -> RenderPlan | StitchOrder:
        """The work order at ``uri`` that execution ``handle`` carries out."""
        with self._lock:
            if handle in self._plans:
                return self._plans[handle]
        plan = read_plan(self.storage, uri)
        with self._lock:
            self._plans[handle] = plan
        return plan

    def manifest(self, handle: str, position: int, clip: str) -> ClipManifest | None:
        """The manifest beside ``clip``, or None when it is missing or unreadable.

        A half-written or foreign file is not trusted: the caller reports the
        task as having left no manifest.
        """
        with self._lock:
            cached = self._manifests.get((handle, position))
        if cached is not None:
            return cached
        try:
            manifest = read_manifest(self.storage, manifest_uri(clip))
        except (ChalklineError, ValueError, TypeError):
            return None
        with self._lock:
            self._manifests[(handle, position)] = manifest
        return manifest

    def failure(self, clip: str) -> str:
        """The error the worker stored beside ``clip``, or "" when it left none
        (killed before it could say anything, or not a chalkline worker)."""
        try:
            return self.storage.read_bytes(failure_uri(clip)).decode(errors="replace").strip()
        except ChalklineError:
            return ""

    def forget(self, handle: str) -> None:
        """Drop what was kept of ``handle``: its work is over for good."""
        with self._lock:
            self._plans.pop(handle, None)
            for key in [key for key in self._manifests if key[0] == handle]:
                del self._manifests[key]


def _one_of(work: Sequence[RenderWork], attribute: str, unit: str) -> str:
    values = {str(getattr(w, attribute)) for w in work}
    if len(values) != 1:
        raise InvalidSpec(f"one {unit} renders one {attribute}, got {sorted(values) or 'none'}")
    return values.pop()
