"""What an end-to-end test reads back from storage: videos and a RenderJob's intermediates.

For backends whose storage is not on this machine's disk (gs:// on
fake-gcs-server): a video is downloaded before it is decoded, and the staging
prefix is listed, not looked at as a folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import av

from chalkline.core.layout import JobRef, Layout
from chalkline.storage import Storage


def download(storage: Storage, uri: str, folder: Path) -> Path:
    """The object at ``uri``, as a file in ``folder``."""
    local = folder / f"downloaded-{Path(uri).name}"
    storage.download(uri, local)
    return local


def decoded_frames(video: Path) -> int:
    """Decode every frame of ``video``'s first video stream; how many there were."""
    with av.open(str(video)) as container:
        return sum(1 for _ in container.decode(video=0))


def frames_in(storage: Storage, uri: str, folder: Path) -> int:
    """Download the video at ``uri`` into ``folder``, decode it, count its frames."""
    return decoded_frames(download(storage, uri, folder))


def staged(storage: Storage, job: Mapping[str, Any]) -> list[str]:
    """The objects below the RenderJob's staging prefix (``job`` as the API server has it)."""
    meta = job["metadata"]
    ref = JobRef(meta["namespace"], meta["name"], meta["uid"], meta["generation"])
    return storage.list(Layout(storage.root_uri).staging(ref))
