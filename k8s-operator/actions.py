"""What the reconciler asks the world to do: plain values, applied by the controller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chalkline.core.layout import JobRef
from chalkline.executors.base import RenderWork, StitchWork


@dataclass(frozen=True)
class StageScript:
    """Put the script where workers read it."""

    uri: str
    text: str


@dataclass(frozen=True)
class LaunchRender:
    """Start (or re-attach to, same key) a render; record its handle in status."""

    key: str
    work: tuple[RenderWork, ...]
    parallelism: int
    #: Where the executor keeps its work orders (the RenderJob's scratch folder).
    scratch_uri: str
    #: The RenderJob the work is for (Kubernetes Jobs carry its labels and owner).
    owner: JobRef | None = None


@dataclass(frozen=True)
class LaunchStitch:
    key: str
    work: StitchWork
    owner: JobRef | None = None


@dataclass(frozen=True)
class Cancel:
    handle: str


@dataclass(frozen=True)
class Emit:
    """A Kubernetes Event on the RenderJob."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class SignVideoUrl:
    """Sign an HTTPS link to the published video, valid ``seconds``, into status.

    Only the controller holds the credentials that sign, so the reconciler
    asks for it; when the storage cannot sign, the controller says why in a
    Warning Event and the job stays succeeded.
    """

    uri: str
    seconds: int


Action = StageScript | LaunchRender | LaunchStitch | Cancel | Emit | SignVideoUrl
