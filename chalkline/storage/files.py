"""``file://`` storage: a folder on this machine, written atomically."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, unquote, urlparse

from chalkline.core.errors import InvalidSpec, SourceNotFound
from chalkline.core.outputs import atomic_output


def path_of(uri: str) -> Path:
    """The absolute path of a ``file:///...`` URI."""
    parsed = urlparse(uri)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        raise InvalidSpec(f"{uri!r} is not a file:/// URI on this machine")
    return Path(unquote(parsed.path))


def uri_of(path: Path) -> str:
    return "file://" + quote(str(path.resolve()))


@contextlib.contextmanager
def _read_errors(uri: str) -> Iterator[None]:
    """Turn a failed open or read into a SourceNotFound that names the URI.

    Wraps only the opening or reading itself, so errors of whoever uses the
    data afterwards keep their own meaning.
    """
    try:
        yield
    except FileNotFoundError:
        raise SourceNotFound(f"{uri} does not exist") from None
    except OSError as err:
        raise SourceNotFound(f"cannot read {uri}: {err.strerror}") from None


@dataclass(frozen=True)
class FileStorage:
    """Objects are files below ``root``; a write lands by rename, never half."""

    root: Path

    @classmethod
    def from_uri(cls, root_uri: str) -> FileStorage:
        return cls(path_of(root_uri))

    @property
    def root_uri(self) -> str:
        return uri_of(self.root)

    def join(self, *parts: str) -> str:
        return uri_of(self.root.joinpath(*parts))

    def write_bytes(self, uri: str, data: bytes) -> None:
        path = self._writable(uri)
        with atomic_output(path) as tmp:
            tmp.write_bytes(data)

    def read_bytes(self, uri: str) -> bytes:
        with _read_errors(uri):
            return path_of(uri).read_bytes()

    @contextlib.contextmanager
    def open_read(self, uri: str) -> Iterator[BinaryIO]:
        """The file itself, opened for reading: a local file is already seekable."""
        with _read_errors(uri):
            stream = path_of(uri).open("rb")
        with stream:
            yield stream

    def upload(self, local: Path, uri: str) -> None:
        path = self._writable(uri)
        if local.resolve() == path.resolve():
            return
        with atomic_output(path) as tmp:
            shutil.copyfile(local, tmp)

    def download(self, uri: str, local: Path) -> None:
        source = path_of(uri)
        if not source.is_file():
            raise SourceNotFound(f"{uri} does not exist")
        with atomic_output(local) as tmp:
            shutil.copyfile(source, tmp)

    def exists(self, uri: str) -> bool:
        return path_of(uri).is_file()

    def list(self, prefix_uri: str) -> list[str]:
        prefix = path_of(prefix_uri)
        if not prefix.is_dir():
            return []
        return sorted(uri_of(p) for p in prefix.rglob("*") if p.is_file())

    def delete_prefix(self, prefix_uri: str) -> int:
        prefix = path_of(prefix_uri)
        if not prefix.exists():
            return 0
        count = sum(1 for p in prefix.rglob("*") if p.is_file())
        shutil.rmtree(prefix, ignore_errors=True)
        return count

    def local_path(self, uri: str) -> Path | None:
        return path_of(uri)

    def signed_url(self, uri: str, expires: timedelta) -> str | None:
        """Always None: a file on this machine has no URL to hand out."""
        return None

    def _writable(self, uri: str) -> Path:
        path = path_of(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
