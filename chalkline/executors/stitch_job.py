"""One stitch as a unit of work: fetch the clips, join them, store the video.

The same function runs in the local executor's thread and, through
:func:`run_stitch_order`, as ``chalkline stitch --plan`` in a Cloud Run stitch job.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from chalkline.executors.base import StitchWork
from chalkline.plans import read_stitch_order
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


def run_stitch_order(order_uri: str) -> dict[str, str]:
    """Do the stitch order at ``order_uri`` and store its details at ``order.result``.

    The scratch folder (downloaded clips, the video before upload) is removed
    whatever happens.
    """
    from chalkline.worker.remote import storage_for

    storage = storage_for(order_uri)
    order = read_stitch_order(storage, order_uri)
    work = StitchWork(clip_uris=order.clips, output_uri=order.output)
    with tempfile.TemporaryDirectory(prefix="chalkline-stitch-") as scratch:
        details = run_stitch(storage, work, Path(scratch), lambda: False)
    body = json.dumps(details, indent=2, sort_keys=True) + "\n"
    storage.write_bytes(order.result, body.encode())
    return details


def _local_copy(storage: Storage, uri: str, folder: Path, index: int) -> Path:
    local = storage.local_path(uri)
    if local is not None:
        return local
    target = folder / f"{index:03d}-{Path(uri).name}"
    storage.download(uri, target)
    return target
