"""One stitch as a unit of work: fetch the clips, join them, store the video.

The same function runs in the local executor's thread and, through
:func:`run_stitch_order`, as ``chalkline stitch --plan`` in a remote stitch job
(the stitcher's container entry point, as :mod:`chalkline.worker.planned_task`
is the worker's).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from chalkline.core.layout import basename
from chalkline.core.records import read_stitch_order, write_stitch_result
from chalkline.stitcher.concat import stitch_clips
from chalkline.storage import Storage, storage_for


class StitchCancelled(Exception):
    """Raised from FFmpeg's progress callback to stop a stitch that was cancelled."""


def run_stitch(
    storage: Storage,
    clip_uris: Sequence[str],
    output_uri: str,
    folder: Path,
    cancelled: Callable[[], bool] = lambda: False,
) -> dict[str, str]:
    """Join ``clip_uris`` into ``output_uri`` using ``folder`` as scratch.

    Returns what the RenderJob's status shows of the stitch.
    """
    clips = [_local_copy(storage, uri, folder, i) for i, uri in enumerate(clip_uris)]
    target = storage.local_path(output_uri)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
    output = target if target is not None else folder / "output.mp4"

    def on_progress(_: float) -> None:
        if cancelled():
            raise StitchCancelled

    report = stitch_clips(clips, output, on_progress=on_progress)
    if target is None:
        storage.upload(output, output_uri)
    return {
        "mode": report.recipe.mode,
        "reason": report.recipe.reason,
        "duration": f"{report.output_duration:.3f}",
        "sizeBytes": str(report.output_size_bytes),
        "seconds": f"{report.seconds:.3f}",
    }


def run_stitch_order(order_uri: str) -> dict[str, str]:
    """Do the stitch order at ``order_uri`` and store its details at ``order.result``.

    The scratch folder (downloaded clips, the video before upload) is removed
    whatever happens.
    """
    storage = storage_for(order_uri)
    order = read_stitch_order(storage, order_uri)
    with tempfile.TemporaryDirectory(prefix="chalkline-stitch-") as scratch:
        details = run_stitch(storage, order.clips, order.output, Path(scratch))
    write_stitch_result(storage, order.result, details)
    return details


def _local_copy(storage: Storage, uri: str, folder: Path, index: int) -> Path:
    local = storage.local_path(uri)
    if local is not None:
        return local
    target = folder / f"{index:03d}-{basename(uri)}"
    storage.download(uri, target)
    return target
