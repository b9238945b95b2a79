"""Work orders for remote workers: what one execution's tasks must do, as JSON.

A Cloud Run execution runs N copies of one container; each copy learns only
its ``CLOUD_RUN_TASK_INDEX``. The operator therefore writes a plan next to the
job's files and passes its URI; task *i* does ``plan.tasks[i]``. Plans are
plain JSON so any version of the worker image can read them, and carry a
``version`` so a newer format is refused with a clear message, not misread.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from chalkline.errors import InvalidSpec, SourceNotFound
from chalkline.storage.base import Storage

PLAN_VERSION = 1


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


def write_plan(storage: Storage, uri: str, plan: RenderPlan | StitchOrder) -> None:
    kind = "render" if isinstance(plan, RenderPlan) else "stitch"
    body = {"version": PLAN_VERSION, "kind": kind, **asdict(plan)}
    storage.write_bytes(uri, json.dumps(body, indent=2, sort_keys=True).encode())


def read_render_plan(storage: Storage, uri: str) -> RenderPlan:
    data = _read(storage, uri, "render")
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


def read_stitch_order(storage: Storage, uri: str) -> StitchOrder:
    data = _read(storage, uri, "stitch")
    try:
        return StitchOrder(
            clips=tuple(str(c) for c in data["clips"]),
            output=str(data["output"]),
            result=str(data["result"]),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise InvalidSpec(f"{uri}: not a stitch order ({err!r})") from None


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


def _read(storage: Storage, uri: str, kind: str) -> dict[str, Any]:
    try:
        data = json.loads(storage.read_bytes(uri))
    except SourceNotFound:
        name, why = _MISSING[kind]
        raise SourceNotFound(
            f"{name} {uri} does not exist", hint=f"{why}; check --plan / CHALKLINE_PLAN"
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
