"""The worker's unit of work, as plain data a forked child receives."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from chalkline.core.layout import manifest_uri


@dataclass(frozen=True)
class RenderTask:
    """Render one scene of one script at one quality into ``output_dir/clip_name``.

    ``clip_name`` comes from :func:`chalkline.core.layout.clip_name`, the one
    naming scheme every reader of the clip uses too. ``media_dir`` is Manim's
    own media folder for this task; keeping it stable across runs (one per
    script and scene) lets Manim re-use its partial movie files when the
    script is rendered again.
    """

    index: int
    script: Path
    scene: str
    quality: str
    output_dir: Path
    media_dir: Path
    clip_name: str
    use_cache: bool = True
    #: Render only animations START..END of the scene (inclusive; each play and
    #: wait counts, as Manim's ``-n START,END``); None: the whole scene.
    animations: tuple[int, int] | None = None
    #: Seed Python's and numpy's random generators before construct(), so every
    #: chunk of a scene draws the numbers the whole scene would (Manim seeds
    #: nothing by default); None: Manim's default.
    seed: int | None = None

    @property
    def clip_path(self) -> Path:
        return self.output_dir / self.clip_name

    @property
    def manifest_path(self) -> Path:
        return Path(manifest_uri(str(self.clip_path)))


def default_media_dir(cache_root: Path, script: Path, scene: str, quality: str) -> Path:
    """Manim's media folder for one scene of one script, stable across runs.

    Keyed by the script's absolute path (not its content) so that after an edit
    Manim still finds the partial movies of the animations that did not change.
    """
    key = hashlib.sha256(str(script.resolve()).encode()).hexdigest()[:16]
    return cache_root / key / scene / quality
