"""The unit of work and its result, as plain data that crosses process lines."""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalkline.storage.base import Storage


@dataclass(frozen=True)
class RenderTask:
    """Render one scene of one script at one quality into ``output_dir``.

    ``media_dir`` is Manim's own media folder for this task; keeping it stable
    across runs (one per script and scene) lets Manim re-use its partial movie
    files when the script is rendered again.
    """

    index: int
    script: Path
    scene: str
    quality: str
    output_dir: Path
    media_dir: Path
    use_cache: bool = True

    @property
    def clip_name(self) -> str:
        """File name of the clip; the index prefix keeps clips in stitch order."""
        return f"{self.index:03d}-{self.scene}.mp4"

    @property
    def clip_path(self) -> Path:
        return self.output_dir / self.clip_name

    @property
    def manifest_path(self) -> Path:
        return self.clip_path.with_suffix(".json")


@dataclass(frozen=True)
class ClipManifest:
    """What a worker reports about the clip it wrote (stored as JSON beside it)."""

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


def manifest_uri(clip_uri: str) -> str:
    """Where a clip's manifest is stored: beside it, the same name with ``.json``.

    Workers write there and executors and the operator read there, so the
    convention lives in one place.
    """
    return posixpath.splitext(clip_uri)[0] + ".json"


def read_manifest(storage: Storage, uri: str) -> ClipManifest:
    """The manifest stored at ``uri`` (see :func:`manifest_uri`).

    Callers decide what a missing or unreadable one means: re-render, report, skip.
    """
    return ClipManifest.from_dict(json.loads(storage.read_bytes(uri)))


def failure_uri(clip_uri: str) -> str:
    """Where a remote task that failed leaves its error, beside the clip (plain text).

    Cloud Run tells the executor only an exit code; the worker's own message
    (the scene's traceback tail) is what a user needs, so it is stored here.
    Plain text, not ``.json``, so nothing mistakes it for a manifest.
    """
    return posixpath.splitext(clip_uri)[0] + ".failure.txt"


def default_media_dir(cache_root: Path, script: Path, scene: str, quality: str) -> Path:
    """Manim's media folder for one scene of one script, stable across runs.

    Keyed by the script's absolute path (not its content) so that after an edit
    Manim still finds the partial movies of the animations that did not change.
    """
    key = hashlib.sha256(str(script.resolve()).encode()).hexdigest()[:16]
    return cache_root / key / scene / quality
