"""Where a RenderJob's files live in storage: a pure function of its identity.

Everything of one RenderJob lives below a prefix that contains its
namespace, name and uid, so two RenderJobs (or a deleted and re-created one
with the same name) can never collide. Clips are named by what determines
their content (scene, quality, script hash), so a spec change that leaves a
scene alone finds its clip already there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class JobRef:
    """The identity of one RenderJob object."""

    namespace: str
    name: str
    uid: str
    generation: int

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"


def script_hash(script: str) -> str:
    return hashlib.sha256(script.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Layout:
    """URIs below the storage root (``file:///var/lib/chalkline`` or ``gs://bucket``)."""

    root_uri: str

    def staging(self, job: JobRef) -> str:
        """The prefix that holds every intermediate of ``job``; deleted with it."""
        return f"{self._root}/jobs/{job.namespace}/{job.name}-{job.uid}"

    def script(self, job: JobRef, digest: str) -> str:
        """The staged script; ``digest`` is :func:`script_hash` of its text."""
        return f"{self.staging(job)}/script-{digest}.py"

    def clips(self, job: JobRef) -> str:
        return f"{self.staging(job)}/clips"

    def clip(self, job: JobRef, scene: str, quality: str, digest: str) -> str:
        return f"{self.clips(job)}/{scene}-{quality}-{digest}.mp4"

    def stitch_scratch(self, job: JobRef) -> str:
        """Where an executor keeps its stitch orders and results for ``job``."""
        return f"{self.staging(job)}/stitch"

    def default_output(self, job: JobRef) -> str:
        return f"{self._root}/videos/{job.namespace}/{job.name}.mp4"

    def cache_key(self, job: JobRef) -> str:
        """Manim's per-scene cache is kept per RenderJob uid across spec changes."""
        return f"{job.namespace}-{job.name}-{job.uid}"

    @property
    def _root(self) -> str:
        return self.root_uri.rstrip("/")
