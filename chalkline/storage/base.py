"""The storage contract every scheme implements."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, Protocol


class Storage(Protocol):
    """Objects addressed by URI below one root; writes are all-or-nothing."""

    @property
    def root_uri(self) -> str:
        """The URI everything of this storage lives below."""
        ...

    def join(self, *parts: str) -> str:
        """The URI of ``parts`` below the root."""
        ...

    def write_bytes(self, uri: str, data: bytes) -> None: ...

    def read_bytes(self, uri: str) -> bytes: ...

    def open_read(self, uri: str) -> AbstractContextManager[BinaryIO]:
        """``uri`` as a seekable binary stream that reads only what is asked for.

        For tools that need a few parts of a large object, such as a clip's
        container headers, without downloading all of it. ``seek(0, 2)``
        gives the object's size. A missing object raises SourceNotFound.
        """
        ...

    def upload(self, local: Path, uri: str) -> None: ...

    def download(self, uri: str, local: Path) -> None: ...

    def exists(self, uri: str) -> bool: ...

    def list(self, prefix_uri: str) -> list[str]:
        """URIs of every object below ``prefix_uri``, sorted."""
        ...

    def delete_prefix(self, prefix_uri: str) -> int:
        """Delete every object below ``prefix_uri``; return how many."""
        ...

    def local_path(self, uri: str) -> Path | None:
        """The file behind ``uri`` when it is on this machine, so it can be used in place."""
        ...

    def signed_url(self, uri: str, expires: timedelta) -> str | None:
        """An HTTPS link that lets anyone holding it read ``uri`` for ``expires``.

        None when this storage cannot make one: a file has no URL, and
        credentials without a key to sign with (an emulator's) cannot sign.
        """
        ...
