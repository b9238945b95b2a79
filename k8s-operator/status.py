"""A typed view of a RenderJob's ``status``, the operator's only memory.

The status is written to Kubernetes as a JSON merge patch, and users, tests,
``crds/renderjob.yaml`` and ``docs/configuration.md`` read it: its keys, their
camelCase names and their value types are an API. So the dict is read in one
place, :meth:`RenderJobStatus.from_dict`, and written in one place,
:meth:`RenderJobStatus.to_dict`, and a round trip gives back the same dict:

- keys this version does not know (another controller's, a newer
  operator's) are kept in ``other`` and written back as they were;
- a key the dict lacks reads as its field's default and stays out of the
  dict until the field is assigned; an object built in code leaves out the
  fields left at their defaults (a task that is not ``empty``);
- a field assigned ``None`` is written as null, which in a merge patch removes
  the key (a new generation drops the last one's ``videoUri``), and a null
  read from the dict is written back as null;
- values are read as their field's type (Kubernetes returns a float 4.0 as
  4), which compares equal to what was read.

Assign, rather than change in place, a list field the dict may lack
(``tasks``, ``conditions``): a list changed in place is not seen as assigned.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, TypeVar

#: ``phase`` values: Pending, Rendering, Stitching, then one of these two.
FINAL_PHASES = ("Succeeded", "Failed")

_R = TypeVar("_R", bound="_Record")
_T = TypeVar("_T")


@dataclass
class _Record:
    """One object of the status: knows which of its keys its dict has."""

    #: Keys this version does not know, written back as read.
    other: dict[str, Any] = field(default_factory=dict, kw_only=True)
    #: Fields whose key is not in the dict (see the module docstring).
    _absent: set[str] = field(default_factory=set, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._absent = {f.name for f in _wire_fields(self) if _at_default(self, f)}

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        absent: set[str] | None = self.__dict__.get("_absent")
        if absent is not None and name != "_absent":
            absent.discard(name)

    def to_dict(self) -> dict[str, Any]:
        """The dict this object stands for; see the module docstring."""
        data: dict[str, Any] = {}
        for name in (f.name for f in _wire_fields(self)):
            value = getattr(self, name)
            plain = _plain(value)
            # A nested object the dict lacked is written once something is set in it.
            if name in self._absent and not (isinstance(value, _Record) and plain):
                continue
            data[_camel(name)] = plain
        data.update(copy.deepcopy(self.other))
        return data

    def _read_from(self: _R, data: Mapping[str, Any]) -> _R:
        """Remember which keys ``data`` has, and keep those this class does not know."""
        known = {_camel(f.name): f.name for f in _wire_fields(self)}
        self.other = {k: copy.deepcopy(v) for k, v in data.items() if k not in known}
        self._absent = {
            name
            for key, name in known.items()
            # A null where a value must be (a list, a number) reads as missing.
            if key not in data or (data[key] is None and getattr(self, name) is not None)
        }
        return self


@dataclass
class TaskStatus(_Record):
    """``status.tasks[]``: one render task, by index."""

    index: int
    scene: str
    #: The URI of the clip the task renders.
    clip: str
    #: Pending, Running, Succeeded, Failed or Cancelled.
    state: str
    #: Seconds the task ran.
    seconds: float
    #: How often it was launched.
    attempts: int
    #: Why it failed, for a person.
    message: str
    #: The scene played no animation, so it made no clip (written only when true).
    empty: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskStatus:
        return cls(
            index=_get(data, "index", int, 0),
            scene=_get(data, "scene", str, ""),
            clip=_get(data, "clip", str, ""),
            state=_get(data, "state", str, "Pending"),
            seconds=_get(data, "seconds", float, 0.0),
            attempts=_get(data, "attempts", int, 0),
            message=_get(data, "message", str, ""),
            empty=_get(data, "empty", bool, False),
        )._read_from(data)


@dataclass
class StitchStatus(_Record):
    """``status.stitch``: the stitch as sized for this run."""

    tier: str
    #: vCPUs and memory as Kubernetes quantities ("1", "2Gi").
    cpu: str
    memory: str
    timeout_seconds: int
    #: copy or reencode: predicted at launch, what the stitcher did once it finished.
    mode: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StitchStatus:
        return cls(
            tier=_get(data, "tier", str, ""),
            cpu=_get(data, "cpu", str, ""),
            memory=_get(data, "memory", str, ""),
            timeout_seconds=_get(data, "timeoutSeconds", int, 0),
            mode=_get(data, "mode", str, ""),
        )._read_from(data)


@dataclass
class Cost(_Record):
    """``status.cost``: what this generation's executions used, and its price."""

    cpu_seconds: float
    gib_seconds: float
    #: US dollars, like "0.000435".
    usd: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cost:
        return cls(
            cpu_seconds=_get(data, "cpuSeconds", float, 0.0),
            gib_seconds=_get(data, "gibSeconds", float, 0.0),
            usd=_get(data, "usd", str, "0"),
        )._read_from(data)


@dataclass
class ExecutionStatus(_Record):
    """``status.execution``: the operator's bookkeeping, so a restart re-attaches."""

    #: The metadata.generation the executions work for.
    generation: int
    #: Render attempts made for failed tasks (spec.retries).
    attempt: int
    #: Digest of the staged script's text (render jobs).
    script: str | None = None
    #: Render executions relaunched because they were gone.
    lost: int = 0
    #: Handles of the current executions; None while a launch is being recorded.
    render: str | None = None
    stitch: str | None = None
    #: A stitch ran out of memory or time and was retried on ``stitch_minimum``.
    stitch_escalated: bool = False
    stitch_minimum: str | None = None
    #: Stitch executions relaunched (gone, or escalated).
    stitch_restarts: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExecutionStatus:
        return cls(
            generation=_get(data, "generation", int, 0),
            attempt=_get(data, "attempt", int, 0),
            script=_optional(data, "script", str),
            lost=_get(data, "lost", int, 0),
            render=_optional(data, "render", str),
            stitch=_optional(data, "stitch", str),
            stitch_escalated=_get(data, "stitchEscalated", bool, False),
            stitch_minimum=_optional(data, "stitchMinimum", str),
            stitch_restarts=_get(data, "stitchRestarts", int, 0),
        )._read_from(data)


def _no_execution() -> ExecutionStatus:
    return ExecutionStatus.from_dict({})


@dataclass
class RenderJobStatus(_Record):
    """A RenderJob's ``status``; fields in the order the operator has always written them."""

    #: The metadata.generation this status describes.
    observed_generation: int | None = None
    #: When work for this generation started and ended (RFC 3339).
    start_time: str | None = None
    completion_time: str | None = None
    #: Where the finished video was published, and a signed link to it.
    video_uri: str | None = None
    video_url: str | None = None
    video_url_expires: str | None = None
    stitch: StitchStatus | None = None
    #: The stitch's price in US dollars as estimated before it ran.
    estimated_cost: str | None = None
    cost: Cost | None = None
    tasks: list[TaskStatus] = field(default_factory=list)
    #: Finished render tasks out of all, like "3/5".
    progress: str | None = None
    execution: ExecutionStatus = field(default_factory=_no_execution)
    #: Pending, Rendering, Stitching, Succeeded or Failed: for printer columns.
    phase: str | None = None
    #: Kubernetes conditions, as dicts (other controllers' included): see conditions.py.
    conditions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.phase in FINAL_PHASES

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RenderJobStatus:
        """Read a status dict; tolerant of missing keys and of keys it does not know."""
        return cls(
            observed_generation=_optional(data, "observedGeneration", int),
            start_time=_optional(data, "startTime", str),
            completion_time=_optional(data, "completionTime", str),
            video_uri=_optional(data, "videoUri", str),
            video_url=_optional(data, "videoUrl", str),
            video_url_expires=_optional(data, "videoUrlExpires", str),
            stitch=_nested(data, "stitch", StitchStatus.from_dict),
            estimated_cost=_optional(data, "estimatedCost", str),
            cost=_nested(data, "cost", Cost.from_dict),
            tasks=[TaskStatus.from_dict(t) for t in _list(data, "tasks") if isinstance(t, Mapping)],
            progress=_optional(data, "progress", str),
            execution=_nested(data, "execution", ExecutionStatus.from_dict) or _no_execution(),
            phase=_optional(data, "phase", str),
            conditions=copy.deepcopy(_list(data, "conditions")),
        )._read_from(data)


# --- reading and writing the dicts ------------------------------------------------


def _get(data: Mapping[str, Any], key: str, kind: Callable[[Any], _T], default: _T) -> _T:
    value = data.get(key)
    return default if value is None else kind(value)


def _optional(data: Mapping[str, Any], key: str, kind: Callable[[Any], _T]) -> _T | None:
    value = data.get(key)
    return None if value is None else kind(value)


def _nested(
    data: Mapping[str, Any], key: str, read: Callable[[Mapping[str, Any]], _R]
) -> _R | None:
    value = data.get(key)
    return read(value) if isinstance(value, Mapping) else None


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return list(value) if isinstance(value, list) else []


def _plain(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return copy.deepcopy(value)


def _wire_fields(record: _Record) -> list[Field[Any]]:
    """The fields that stand for keys of the dict."""
    return [f for f in fields(record) if f.name not in ("other", "_absent")]


def _at_default(record: _Record, spec: Field[Any]) -> bool:
    value = getattr(record, spec.name)
    if spec.default is not MISSING:
        return bool(value == spec.default)
    if spec.default_factory is not MISSING:
        return bool(value == spec.default_factory())
    return False  # a required field is always written


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


__all__ = [
    "FINAL_PHASES",
    "Cost",
    "ExecutionStatus",
    "RenderJobStatus",
    "StitchStatus",
    "TaskStatus",
]
