"""Writing results safely: check the destination first, publish atomically.

A failed or interrupted run must leave nothing at the output path, not even a
truncated file, so every writer produces a temporary file beside the target and
renames it into place only when it is complete (a rename within one folder is
atomic on POSIX).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from chalkline.core.errors import OutputNotWritable

#: Containers FFmpeg can finish with ``+faststart`` (moov atom up front).
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v")


def check_video_output(path: Path) -> Path:
    """Fail early, before any work, when ``path`` cannot receive a video."""
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise OutputNotWritable(
            f"output {path} must end in one of {', '.join(VIDEO_SUFFIXES)}",
            hint=f"for example: -o {path.with_suffix('.mp4')}",
        )
    if path.is_dir():
        raise OutputNotWritable(f"output {path} is a folder; name a file inside it")
    check_writable_folder(path.parent if str(path.parent) else Path("."))
    return path


def check_writable_folder(folder: Path) -> Path:
    """Fail with a clear message when ``folder`` is missing or read-only."""
    if not folder.exists():
        raise OutputNotWritable(
            f"output folder does not exist: {folder}", hint=f"create it: mkdir -p {folder}"
        )
    if not folder.is_dir():
        raise OutputNotWritable(f"output folder is not a folder: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputNotWritable(
            f"output folder is not writable: {folder}",
            hint="choose another folder or fix its permissions",
        )
    return folder


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place on success.

    The temporary name keeps the suffix so tools that pick a container from the
    file name (FFmpeg) still do. On any exception, Ctrl-C included, the
    temporary file is removed and ``path`` is left as it was.
    """
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=path.parent or "."
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp made the file private (0600); a published video gets the
        # permissions any new file of this user would get.
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: Path, text: str) -> None:
    """Write a small text file (a manifest) so readers never see half of it."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
