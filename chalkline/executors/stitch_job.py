"""One stitch as a unit of work: fetch the clips, join them, store the video.

The same function runs in the local executor's thread and (later) as the
``chalkline stitch`` step of a Cloud Run stitch job.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chalkline.executors.base import StitchWork
from chalkline.stitcher.concat import stitch_clips
from chalkline.storage.base import Storage


class StitchCancelled(Exception):
    """Raised from FFmpeg's progress callback to stop a stitch that was cancelled."""


def run_stitch(
    storage: Storage, work: StitchWork, folder: Path, cancelled: Callable[[], bool]
) -> dict[str, str]:
    """Stitch ``work`` using ``folder`` as scratch; return what status should show."""
    clips = [_local_copy(storage, uri, folder, i) for i, uri in enumerate(work.clip_uris)]
    target = storage.local_path(work.output_uri)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
    output = target if target is not None else folder / "output.mp4"

    def on_progress(_: float) -> None:
        if cancelled():
            raise StitchCancelled

    report = stitch_clips(clips, output, on_progress=on_progress)
    if target is None:
        storage.upload(output, work.output_uri)
    return {
        "mode": report.plan.mode,
        "reason": report.plan.reason,
        "duration": f"{report.output_duration:.3f}",
        "sizeBytes": str(report.output_size_bytes),
        "seconds": f"{report.seconds:.3f}",
    }


def _local_copy(storage: Storage, uri: str, folder: Path, index: int) -> Path:
    local = storage.local_path(uri)
    if local is not None:
        return local
    target = folder / f"{index:03d}-{Path(uri).name}"
    storage.download(uri, target)
    return target
