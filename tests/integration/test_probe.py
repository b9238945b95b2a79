"""Probing a clip where it lives: a file here, or a gs:// object read in ranges, never whole.

The operator probes the clips of a stitch-only RenderJob to size the stitch;
its pod has little disk, and clips can be hundreds of MB.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from chalkline.core.errors import InvalidClip
from chalkline.core.probe import probe_clip, probe_stream
from chalkline.stitcher.ffmpeg_exe import ffmpeg_executable
from chalkline.storage import FileStorage
from chalkline.storage.gcs import GcsStorage
from tests.support.clips import MakeClip


def moov_at_the_end(clip: Path, target: Path) -> Path:
    """``clip`` remuxed without faststart, as phones and Manim write MP4s: headers at the tail."""
    command = [ffmpeg_executable(), "-nostdin", "-loglevel", "error", "-i", str(clip)]
    subprocess.run([*command, "-c", "copy", str(target)], check=True)
    return target


@pytest.mark.parametrize("headers", ["head", "tail"])
def test_a_gs_clip_probes_like_its_local_file_from_a_few_ranges(
    make_clip: MakeClip,
    gcs_bucket: str,
    gcs_downloads: list[int],
    tmp_path: Path,
    headers: str,
) -> None:
    clip = make_clip(width=1280, height=720, seconds=2.0)  # about 1 MB
    if headers == "tail":
        clip = moov_at_the_end(clip, tmp_path / "tail.mp4")
    store = GcsStorage.from_uri(f"gs://{gcs_bucket}")
    uri = store.join("clips", "wide.mp4")
    store.upload(clip, uri)

    with store.open_read(uri) as stream:
        remote = probe_stream(stream, uri)

    assert remote == dataclasses.replace(probe_clip(clip), path=Path("wide.mp4"))
    assert len(gcs_downloads) <= 3  # head, tail, and back to the first packets
    assert sum(gcs_downloads) < clip.stat().st_size


def test_a_local_clip_probes_the_same_as_a_stream(make_clip: MakeClip) -> None:
    clip = make_clip()
    store = FileStorage(clip.parent)
    uri = store.join(clip.name)

    with store.open_read(uri) as stream:
        streamed = probe_stream(stream, uri)

    assert streamed == dataclasses.replace(probe_clip(clip), path=Path(clip.name))


def test_a_gs_object_that_is_no_video_is_named_by_its_uri(gcs_bucket: str) -> None:
    store = GcsStorage.from_uri(f"gs://{gcs_bucket}")
    uri = store.join("clips", "notes.mp4")
    store.write_bytes(uri, b"meeting notes, not a video\n" * 100)

    with (
        pytest.raises(InvalidClip, match=f"clip {uri} is not a video"),
        store.open_read(uri) as stream,
    ):
        probe_stream(stream, uri)
