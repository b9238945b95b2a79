"""Outputs appear complete or not at all."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalkline.core.errors import InvalidSpec, OutputNotWritable
from chalkline.core.outputs import atomic_output, check_video_output
from chalkline.core.quality import QUALITIES, quality_named


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder of its own, so its listing shows every leftover."""
    path = tmp_path / "out"
    path.mkdir()
    return path


def test_atomic_output_renames_into_place_on_success(folder: Path) -> None:
    target = folder / "v.mp4"
    with atomic_output(target) as tmp:
        assert tmp.parent == folder and tmp.suffix == ".mp4" and tmp != target
        tmp.write_bytes(b"data")
        assert not target.exists()
    assert target.read_bytes() == b"data"
    assert os.listdir(folder) == ["v.mp4"]


def test_published_files_get_the_usual_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "v.mp4") as tmp:
            tmp.write_bytes(b"data")
    finally:
        os.umask(old)
    assert (tmp_path / "v.mp4").stat().st_mode & 0o777 == 0o644


def test_atomic_output_leaves_nothing_on_failure_or_interrupt(folder: Path) -> None:
    target = folder / "v.mp4"
    target.write_bytes(b"old")
    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)), atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise exc
    assert target.read_bytes() == b"old"
    assert os.listdir(folder) == ["v.mp4"]


def test_output_folder_must_exist(tmp_path: Path) -> None:
    with pytest.raises(OutputNotWritable, match="does not exist") as err:
        check_video_output(tmp_path / "missing" / "v.mp4")
    assert "mkdir -p" in str(err.value)


@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[Path]:
    """A folder nobody can write to, root included (immutable when we are root)."""
    folder.mkdir(mode=0o555)
    if os.geteuid() != 0:
        yield folder
        return
    if subprocess.run(["chattr", "+i", str(folder)], check=False).returncode != 0:
        pytest.skip("running as root without CAP_LINUX_IMMUTABLE: cannot make a read-only folder")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_output_folder_must_be_writable(tmp_path: Path) -> None:
    with (
        read_only_folder(tmp_path / "locked") as locked,
        pytest.raises(OutputNotWritable, match="output folder is not writable"),
    ):
        check_video_output(locked / "v.mp4")


def test_output_parent_must_be_a_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputNotWritable, match="is not a folder"):
        check_video_output(tmp_path / "file" / "v.mp4")


def test_output_must_be_a_video_file_name(tmp_path: Path) -> None:
    with pytest.raises(OutputNotWritable, match=r"must end in one of \.mp4"):
        check_video_output(tmp_path / "v.gif")
    (tmp_path / "d.mp4").mkdir()
    with pytest.raises(OutputNotWritable, match="is a folder"):
        check_video_output(tmp_path / "d.mp4")


def test_quality_names_map_to_manim_presets() -> None:
    assert {q.name: q.label for q in QUALITIES.values()} == {
        "low": "480p15",
        "medium": "720p30",
        "high": "1080p60",
        "4k": "2160p60",
    }
    assert quality_named("HIGH").manim_name == "high_quality"
    with pytest.raises(InvalidSpec, match="unknown quality 'ultra'"):
        quality_named("ultra")
