"""Where scripts, clips and videos live between steps: one interface, several schemes.

``file://`` is a folder on this machine (the embedded default); ``gs://`` is
Google Cloud Storage, for the Cloud Run backend. Everything that
moves data between the operator, workers and the stitcher goes through a
:class:`Storage`, so an executor never cares which one it is.
"""

from __future__ import annotations

from chalkline.core.errors import InvalidSpec
from chalkline.storage.base import Storage
from chalkline.storage.files import FileStorage


def open_storage(root_uri: str) -> Storage:
    """The storage for ``root_uri`` (``file:///var/lib/chalkline``, ``gs://bucket/prefix``).

    The gs:// module is imported only when asked for, so file:// users never
    load google-cloud-storage.
    """
    if root_uri.startswith("file://"):
        return FileStorage.from_uri(root_uri)
    if root_uri.startswith("gs://"):
        from chalkline.storage.gcs import GcsStorage

        return GcsStorage.from_uri(root_uri)
    raise InvalidSpec(
        f"storage {root_uri!r} is not a URI chalkline knows",
        hint="use file:///absolute/folder or gs://bucket/prefix",
    )


def storage_for(uri: str) -> Storage:
    """A storage that can reach ``uri``: its bucket for gs://, the filesystem for file://.

    What a container needs that is handed one URI (a plan, a stitch order) and
    nothing else.
    """
    if uri.startswith("gs://"):
        from chalkline.storage.gcs import split_uri

        return open_storage(f"gs://{split_uri(uri)[0]}")
    if uri.startswith("file://"):
        return open_storage("file:///")
    raise InvalidSpec(
        f"{uri!r} is not a gs:// or file:// URI", hint="use gs://BUCKET/PATH or file:///PATH"
    )


__all__ = ["FileStorage", "Storage", "open_storage", "storage_for"]
