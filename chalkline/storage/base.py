"""The storage contract every scheme implements."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


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
