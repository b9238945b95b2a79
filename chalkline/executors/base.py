"""The executor contract: launch, poll, cancel, by idempotency key.

A launch names a *key* chosen by the caller (RenderJob uid, generation and
attempt). Launching the same key twice returns the first execution instead
of starting a second one, which is what makes a handler that Kopf re-runs, or
an operator that restarts between launching and recording, harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from chalkline.core.layout import JobRef
from chalkline.core.records import ClipManifest

TaskPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Cancelled"]
ExecutionPhase = Literal["Running", "Succeeded", "Failed", "Cancelled", "Unknown"]


@dataclass(frozen=True)
class RenderWork:
    """One scene to render: the worker reads ``script_uri``, writes ``clip_uri`` (+ .json)."""

    index: int
    scene: str
    script_uri: str
    quality: str
    clip_uri: str
    cache_key: str


@dataclass(frozen=True)
class StitchWork:
    """Clips to join, in order, into ``output_uri``.

    ``scratch_uri`` is a folder for the executor's own files (a remote stitch
    order and its result); the reconciler puts it under the RenderJob's
    staging prefix (:meth:`chalkline.core.layout.Layout.scratch`) so that
    deleting the RenderJob removes them too.
    """

    clip_uris: tuple[str, ...]
    output_uri: str
    scratch_uri: str
    tier: str = "auto"
    timeout_seconds: int | None = None


@dataclass(frozen=True)
class TaskReport:
    index: int
    phase: TaskPhase
    seconds: float = 0.0
    message: str = ""
    manifest: ClipManifest | None = None


@dataclass(frozen=True)
class Usage:
    """What an execution consumed, in the units Cloud Run bills: vCPU- and GiB-seconds.

    Each task contributes its run time times its container's CPU and memory
    limits. The reconciler adds it up in ``status.cost`` and prices it.
    """

    cpu_seconds: float
    gib_seconds: float


@dataclass(frozen=True)
class ExecutionReport:
    """What an executor knows about one execution right now.

    ``usage`` is what the execution has consumed so far, or None when the
    executor cannot tell (or nobody bills it, as on this machine).
    """

    handle: str
    phase: ExecutionPhase
    tasks: tuple[TaskReport, ...] = ()
    message: str = ""
    reason: str = ""
    details: dict[str, str] = field(default_factory=dict)
    usage: Usage | None = None

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed", "Cancelled")


class Executor(Protocol):
    """Runs render tasks and stitches somewhere, and reports on them."""

    name: str

    def launch_render(
        self,
        key: str,
        work: list[RenderWork],
        parallelism: int,
        *,
        scratch_uri: str,
        owner: JobRef | None = None,
    ) -> str:
        """Start rendering ``work``; return the execution's handle (same key, same handle).

        ``scratch_uri`` is where the executor may keep its work orders (see
        :meth:`chalkline.core.layout.Layout.scratch`); ``owner`` is the
        RenderJob the work is for, for executors whose executions can name
        it (Kubernetes Jobs: labels and owner references).
        """
        ...

    def launch_stitch(self, key: str, work: StitchWork, *, owner: JobRef | None = None) -> str: ...

    def poll(self, handle: str) -> ExecutionReport:
        """The execution's state; ``Unknown`` when this executor has never heard of it."""
        ...

    def cancel(self, handle: str) -> None:
        """Stop the execution; harmless when it is finished or unknown."""
        ...

    def release(self, handle: str) -> None:
        """The work is over for good (its RenderJob is deleted, a laptop run ended):
        remove what the execution leaves on its platform. Harmless when unknown."""
        ...

    def close(self) -> None:
        """Stop everything (the operator is shutting down)."""
        ...
