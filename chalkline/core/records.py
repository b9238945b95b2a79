"""The records that cross process boundaries, and the env variables that carry them.

A remote execution runs N copies of one container; each copy learns only the
URI of its work order (``CHALKLINE_PLAN``) and its task index
(``CLOUD_RUN_TASK_INDEX`` on Cloud Run, ``JOB_COMPLETION_INDEX`` in a
Kubernetes Indexed Job). Three records travel between the
operator (or a laptop), the workers and the stitcher, each defined here once:

- :class:`RenderPlan`: which scene each task of a render execution renders,
  and where it stores the clip;
- :class:`StitchOrder`: which clips a stitch joins, in order, into which video;
- :class:`ClipManifest`: what a worker reports about the clip it wrote, stored
  as JSON beside the clip (see :mod:`chalkline.core.layout`).

All are plain JSON so any version of an image can read them; plans carry a
``version`` so a newer format is refused with a clear message, not misread.
Reading and writing go through :class:`BlobStore`, the two methods of the
storage contract they need, so this module stays below storage.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from chalkline.core.errors import InvalidSpec, SourceNotFound

PLAN_VERSION = 1
#: The URI of the render plan or stitch order a container works on.
PLAN_ENV = "CHALKLINE_PLAN"
#: The idempotency key an execution was launched with (found again after a restart).
KEY_ENV = "CHALKLINE_KEY"
#: Which task of the plan this container runs, as each platform sets it: Cloud
#: Run Jobs, and Kubernetes Indexed Jobs.
TASK_INDEX_ENVS = ("CLOUD_RUN_TASK_INDEX", "JOB_COMPLETION_INDEX")


class BlobStore(Protocol):
    """What reading and writing a record needs of :class:`chalkline.storage.Storage`."""

    def read_bytes(self, uri: str) -> bytes: ...

    def write_bytes(self, uri: str, data: bytes) -> None: ...


@dataclass(frozen=True)
class ClipManifest:
    """What a worker reports about the clip it wrote (stored as JSON beside it).

    ``clip`` is the clip's file name (see :func:`chalkline.core.layout.clip_name`),
    or empty for a scene that played no animation.
    """

    index: int
    scene: str
    clip: str
    frames: int
    duration: float
    size_bytes: int
    width: int
    height: int
    fps: float
    has_audio: bool
    render_seconds: float
    manim_version: str
    quality: str

    @property
    def resolution(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def has_clip(self) -> bool:
        """False for a scene that played no animation (Manim writes no movie)."""
        return bool(self.clip)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClipManifest:
        """Build from a parsed manifest, ignoring keys newer versions may add."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def read(cls, path: Path) -> ClipManifest:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def read_manifest(store: BlobStore, uri: str) -> ClipManifest:
    """The manifest stored at ``uri`` (see :func:`chalkline.core.layout.manifest_uri`).

    Callers decide what a missing or unreadable one means: re-render, report, skip.
    """
    return ClipManifest.from_dict(json.loads(store.read_bytes(uri)))


def write_manifest(store: BlobStore, uri: str, manifest: ClipManifest) -> None:
    store.write_bytes(uri, manifest.to_json().encode())


@dataclass(frozen=True)
class PlannedScene:
    """One task: render ``scene`` and store the clip at ``clip`` (manifest beside it)."""

    index: int
    scene: str
    clip: str


@dataclass(frozen=True)
class RenderPlan:
    script: str
    quality: str
    tasks: tuple[PlannedScene, ...]

    def task(self, position: int) -> PlannedScene:
        """The task a worker with ``CLOUD_RUN_TASK_INDEX=position`` runs."""
        if not 0 <= position < len(self.tasks):
            raise InvalidSpec(
                f"task index {position} is outside this plan's {len(self.tasks)} task(s)",
                hint="the execution's task count must equal the number of planned scenes",
            )
        return self.tasks[position]


@dataclass(frozen=True)
class StitchOrder:
    """Join ``clips`` in order into ``output``; write what happened to ``result``."""

    clips: tuple[str, ...]
    output: str
    result: str


def write_plan(store: BlobStore, uri: str, plan: RenderPlan | StitchOrder) -> None:
    kind = "render" if isinstance(plan, RenderPlan) else "stitch"
    body = {"version": PLAN_VERSION, "kind": kind, **asdict(plan)}
    store.write_bytes(uri, json.dumps(body, indent=2, sort_keys=True).encode())


def read_render_plan(store: BlobStore, uri: str) -> RenderPlan:
    data = _read(store, uri, "render")
    try:
        return RenderPlan(
            script=str(data["script"]),
            quality=str(data["quality"]),
            tasks=tuple(
                PlannedScene(int(t["index"]), str(t["scene"]), str(t["clip"]))
                for t in data["tasks"]
            ),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise InvalidSpec(f"{uri}: not a render plan ({err!r})") from None


def read_stitch_order(store: BlobStore, uri: str) -> StitchOrder:
    data = _read(store, uri, "stitch")
    try:
        return StitchOrder(
            clips=tuple(str(c) for c in data["clips"]),
            output=str(data["output"]),
            result=str(data["result"]),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise InvalidSpec(f"{uri}: not a stitch order ({err!r})") from None


def read_plan(store: BlobStore, uri: str) -> RenderPlan | StitchOrder:
    """Whichever work order is at ``uri``: an executor following an execution it found."""
    try:
        kind = json.loads(store.read_bytes(uri)).get("kind")
    except (json.JSONDecodeError, AttributeError):
        kind = None  # _read names the problem
    return read_stitch_order(store, uri) if kind == "stitch" else read_render_plan(store, uri)


def write_stitch_result(store: BlobStore, uri: str, details: dict[str, str]) -> None:
    """What a remote stitch did (mode, reason, duration, ...), for the executor to report."""
    store.write_bytes(uri, (json.dumps(details, indent=2, sort_keys=True) + "\n").encode())


def read_stitch_result(store: BlobStore, uri: str) -> dict[str, str]:
    data = json.loads(store.read_bytes(uri))
    if not isinstance(data, dict):
        raise InvalidSpec(f"{uri}: not a stitch result")
    return {str(k): str(v) for k, v in data.items()}


#: How each kind is named in errors, and what a missing one usually means.
_MISSING = {
    "render": (
        "render plan",
        "the operator writes the plan before it launches the execution",
    ),
    "stitch": (
        "stitch order",
        "the operator writes the order before it launches the stitch",
    ),
}


def _read(store: BlobStore, uri: str, kind: str) -> dict[str, Any]:
    try:
        data = json.loads(store.read_bytes(uri))
    except SourceNotFound:
        name, why = _MISSING[kind]
        raise SourceNotFound(
            f"{name} {uri} does not exist", hint=f"{why}; check --plan / {PLAN_ENV}"
        ) from None
    except json.JSONDecodeError as err:
        raise InvalidSpec(f"{uri}: plan is not JSON ({err})") from None
    if not isinstance(data, dict) or data.get("kind") != kind:
        raise InvalidSpec(f"{uri}: expected a {kind} plan")
    if data.get("version") != PLAN_VERSION:
        raise InvalidSpec(
            f"{uri}: plan version {data.get('version')!r}, this worker reads {PLAN_VERSION}",
            hint="run the same chalkline version in the operator and the worker image",
        )
    return data
