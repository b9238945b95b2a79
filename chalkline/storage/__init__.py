"""Where scripts, clips and videos live between steps: one interface, several schemes.

``file://`` is a folder on this machine (the embedded default); ``gs://``
(Google Cloud Storage) arrives with the Cloud Run backend. Everything that
moves data between the operator, workers and the stitcher goes through a
:class:`Storage`, so an executor never cares which one it is.
"""

from __future__ import annotations

from chalkline.errors import InvalidSpec
from chalkline.storage.base import Storage
from chalkline.storage.files import FileStorage


def open_storage(root_uri: str) -> Storage:
    """The storage for ``root_uri`` (``file:///var/lib/chalkline``)."""
    if root_uri.startswith("file://"):
        return FileStorage.from_uri(root_uri)
    if root_uri.startswith("gs://"):
        raise InvalidSpec(
            f"storage {root_uri}: gs:// storage is not available yet",
            hint="use a file:// folder with the local backend",
        )
    raise InvalidSpec(
        f"storage {root_uri!r} is not a URI chalkline knows",
        hint="use file:///absolute/folder",
    )


__all__ = ["FileStorage", "Storage", "open_storage"]
