"""Where everything lives in storage, and what clips are called: one place for both.

Everything of one RenderJob lives below a staging prefix that contains its
namespace, name and uid, so two RenderJobs (or a deleted and re-created one
with the same name) can never collide, and deleting the prefix removes every
intermediate. Below it::

    script-DIGEST.py                the staged script
    clips/SCENE-QUALITY-DIGEST.mp4  a clip; named by what determines its content
    clips/SCENE-QUALITY-DIGEST.json   its manifest (chalkline.core.records.ClipManifest)
    clips/SCENE-QUALITY-DIGEST.failure.txt   the error of a remote task that failed
    scratch/render-KEY.json         a render plan, one per launched execution
    scratch/stitch-KEY/order.json   a stitch order, and result.json beside it

The video goes to ``spec.output`` or ``videos/NAMESPACE/NAME.mp4`` under the
root, outside the staging prefix, so it outlives the RenderJob. A run from a
laptop (``chalkline render|stitch --backend cloudrun``) keeps its uploaded
clips and its video under ``runs/RUN-ID/`` until it has downloaded the video.

Clips are named by scene, quality and script digest (:func:`clip_name`), by
the worker that writes them and by everyone who reads them, so a spec change
that leaves a scene alone finds its clip already there, and nothing is
renamed after the fact. Only ``clips/`` holds clips and their manifests.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

CLIP_SUFFIX = ".mp4"
MANIFEST_SUFFIX = ".json"
FAILURE_SUFFIX = ".failure.txt"


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
    """The digest that names a script and the clips rendered from it."""
    return hashlib.sha256(script.encode()).hexdigest()[:16]


def clip_name(
    scene: str, quality: str, digest: str, animations: tuple[int, int] | None = None
) -> str:
    """The file name of a clip: the same for the worker that writes it and every reader.

    A chunk of a scene (``animations``, Manim's inclusive ``-n START,END``)
    is named by its range too.
    """
    chunk = f"-a{animations[0]}-{animations[1]}" if animations is not None else ""
    return f"{scene}-{quality}-{digest}{chunk}{CLIP_SUFFIX}"


def manifest_uri(clip_uri: str) -> str:
    """Where a clip's manifest is stored: beside it, the same name with ``.json``."""
    return posixpath.splitext(clip_uri)[0] + MANIFEST_SUFFIX


def clip_of_manifest(manifest: str) -> str:
    """The clip a manifest URI (or path) describes: the inverse of :func:`manifest_uri`."""
    return manifest.removesuffix(MANIFEST_SUFFIX) + CLIP_SUFFIX


def failure_uri(clip_uri: str) -> str:
    """Where a remote task that failed leaves its error, beside the clip (plain text).

    Cloud Run tells the executor only an exit code; the worker's own message
    (the scene's traceback tail) is what a user needs, so it is stored here.
    """
    return posixpath.splitext(clip_uri)[0] + FAILURE_SUFFIX


def is_manifest(uri: str) -> bool:
    """True for a clip manifest's URI; plans and failures never look like one."""
    return uri.endswith(MANIFEST_SUFFIX) and not uri.endswith(FAILURE_SUFFIX)


def render_plan_uri(scratch: str, key: str) -> str:
    """The render plan of the execution launched with idempotency ``key``."""
    return f"{scratch.rstrip('/')}/render-{_slug(key)}.json"


def stitch_order_uri(scratch: str, key: str) -> str:
    """The stitch order of the stitch launched with ``key``."""
    return f"{scratch.rstrip('/')}/stitch-{_slug(key)}/order.json"


def stitch_result_uri(scratch: str, key: str) -> str:
    """Where the stitcher writes what it did, beside its order."""
    return f"{scratch.rstrip('/')}/stitch-{_slug(key)}/result.json"


def uploaded_clip_uri(run_folder: str, number: int, name: str) -> str:
    """Where a laptop run uploads its ``number``-th local clip (numbered: names may repeat)."""
    return f"{run_folder}/clips/{number:03d}-{name}"


def run_video_uri(run_folder: str) -> str:
    """Where a laptop run's video is written before it is downloaded."""
    return f"{run_folder}/video.mp4"


def basename(uri: str) -> str:
    """The file name a URI ends in, percent-decoded (``gs://b/a/x%20y.mp4`` -> ``x y.mp4``)."""
    return posixpath.basename(unquote(urlparse(uri).path))


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
        return f"{self.clips(job)}/{clip_name(scene, quality, digest)}"

    def scratch(self, job: JobRef) -> str:
        """Where executors keep their work orders for ``job`` (render plans, stitch orders)."""
        return f"{self.staging(job)}/scratch"

    def run_folder(self, run_id: str) -> str:
        """A laptop run's uploads and video (see the module docstring); deleted after it."""
        return f"{self._root}/runs/{run_id}"

    def default_output(self, job: JobRef) -> str:
        return f"{self._root}/videos/{job.namespace}/{job.name}.mp4"

    def cache_key(self, job: JobRef) -> str:
        """Manim's per-scene cache is kept per RenderJob uid across spec changes."""
        return f"{job.namespace}-{job.name}-{job.uid}"

    @property
    def _root(self) -> str:
        return self.root_uri.rstrip("/")


def _slug(key: str) -> str:
    """An idempotency key as a safe file name."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", key)
