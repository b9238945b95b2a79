"""``gs://`` storage: objects in Google Cloud Storage, checked and never clobbered.

The root is ``gs://BUCKET`` or ``gs://BUCKET/PREFIX``; URIs in other buckets
work too (``spec.clips`` and ``spec.output`` may point anywhere the
credentials reach).

Integrity. Every transfer carries a CRC32C: uploads send the checksum they
computed so the server rejects a corrupted body, downloads compare the bytes
received with the object's checksum (``X-Goog-Hash``) and fail rather than
hand back damaged media.

Retries. Reads and deletes retry transient errors (429, 5xx, dropped
connections) with the client's ``DEFAULT_RETRY``. Writes use
``DEFAULT_RETRY_IF_GENERATION_SPECIFIED``, which retries only requests that
carry a generation precondition; every write here carries one, so a retried
upload can never land twice or over somebody else's object.

Preconditions (which write uses which rule):

- ``write_bytes`` and ``upload`` without ``if_generation_match`` -- every write
  the executors and the operator make through the :class:`Storage` contract
  (staged scripts, clips, manifests, final videos) -- read the object's
  current generation first and write with ``ifGenerationMatch`` set to it: 0
  when it does not exist yet (create), its generation when it does (a clip
  re-rendered by a retried task, a video re-stitched after a spec change).
  What they replace is exactly what they saw; anything written in between
  makes the write fail instead of disappearing.
- ``if_generation_match=0``: create only, for objects that must never be
  replaced. ``if_generation_match=N``: replace generation N only.
- A write refused by its precondition is not an error when the object
  already holds exactly the bytes being written (same size and CRC32C): that
  is our own request whose response was lost and was retried, or a twin
  writer of a content-named object. Anything else raises
  :class:`StorageConflict`.

Endpoint. The client honours ``STORAGE_EMULATOR_HOST`` itself (it then talks
plain HTTP to that host); :func:`make_client` adds anonymous credentials and a
project so nothing looks for Google credentials against an emulator.
"""

from __future__ import annotations

import base64
import contextlib
import mimetypes
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import google_crc32c
from google.api_core import exceptions as api
from google.auth import exceptions as auth_errors
from google.auth.credentials import AnonymousCredentials, Signing
from google.auth.transport.requests import Request
from google.cloud import storage  # type: ignore[import-untyped,attr-defined,unused-ignore]
from google.cloud.storage.exceptions import (  # type: ignore[import-untyped,unused-ignore]
    DataCorruption,
)
from google.cloud.storage.retry import (  # type: ignore[import-untyped,unused-ignore]
    DEFAULT_RETRY,
    DEFAULT_RETRY_IF_GENERATION_SPECIFIED,
)

from chalkline.core.errors import (
    ChalklineError,
    InvalidSpec,
    OutputNotWritable,
    SourceNotFound,
    StorageAccessDenied,
    StorageConflict,
)
from chalkline.core.outputs import atomic_output

EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
PROJECT_ENV = "CHALKLINE_CLOUDRUN_PROJECT"
#: The emulator ignores the project, but bucket creation needs one.
EMULATOR_PROJECT = "test"
#: Checksum used for every upload and download (the C extension is installed).
CHECKSUM = "crc32c"
#: Bytes one ranged GET of :meth:`GcsStorage.open_read` fetches (see there).
READ_CHUNK_BYTES = 256 * 1024

_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")


def make_client() -> Any:
    """A ``google.cloud.storage.Client`` for the environment chalkline runs in.

    With ``STORAGE_EMULATOR_HOST`` set the client sends every request there;
    anonymous credentials keep it from looking for real ones, and the project
    comes from ``CHALKLINE_CLOUDRUN_PROJECT`` (default ``test``). Otherwise
    Application Default Credentials are used (the service account on Cloud
    Run, ``gcloud auth application-default login`` on a laptop).
    """
    project = os.environ.get(PROJECT_ENV) or None
    try:
        if os.environ.get(EMULATOR_ENV):
            return storage.Client(
                project=project or EMULATOR_PROJECT,
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call,unused-ignore]
            )
        if project:
            return storage.Client(project=project)
        return storage.Client()
    except auth_errors.DefaultCredentialsError as err:
        raise StorageAccessDenied(
            f"gs:// storage needs Google credentials and none were found: {err}",
            hint="run `gcloud auth application-default login`, set "
            "GOOGLE_APPLICATION_CREDENTIALS, or point STORAGE_EMULATOR_HOST at an emulator",
        ) from None


def split_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/a/b`` -> ``("bucket", "a/b")``; the name may be empty."""
    if not uri.startswith("gs://"):
        raise InvalidSpec(f"{uri!r} is not a gs:// URI", hint="use gs://BUCKET/PATH")
    bucket, _, name = uri[len("gs://") :].partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise InvalidSpec(
            f"{uri!r} does not start with a valid bucket name",
            hint="bucket names are 3-222 lower-case letters, digits, '-', '_' and '.'",
        )
    return bucket, name


class _Action(NamedTuple):
    """What a call does, for error messages: its verb and the IAM permission it needs."""

    verb: str
    permission: str


_READ = _Action("read", "storage.objects.get")
_LIST = _Action("list", "storage.objects.list")
_WRITE = _Action("write", "storage.objects.create")
_DELETE = _Action("delete", "storage.objects.delete")
_SIGN = _Action("sign a URL for", "iam.serviceAccounts.signBlob")


@contextlib.contextmanager
def _gcs_errors(uri: str, action: _Action) -> Iterator[None]:
    """Turn the client's exceptions into messages that say what to fix.

    ``PreconditionFailed`` passes through untouched: the write that set the
    precondition decides what it means.
    """
    bucket = split_uri(uri)[0]
    try:
        yield
    except api.PreconditionFailed:
        raise
    except api.NotFound:
        if action is _READ:
            raise SourceNotFound(f"{uri} does not exist") from None
        error = OutputNotWritable if action is _WRITE else SourceNotFound
        raise error(
            f"cannot {action.verb} {uri}: bucket gs://{bucket} does not exist",
            hint=f"create it (gcloud storage buckets create gs://{bucket}) or fix the URI",
        ) from None
    except (api.Forbidden, api.Unauthorized) as err:
        raise StorageAccessDenied(
            f"cannot {action.verb} {uri}: access to bucket gs://{bucket} denied, "
            f"the credentials lack {action.permission} ({err.message})",
            hint=f"grant the account chalkline runs as {action.permission} on "
            f"gs://{bucket}, e.g. roles/storage.objectAdmin",
        ) from None
    except DataCorruption as err:
        raise ChalklineError(
            f"cannot {action.verb} {uri}: the data failed its {CHECKSUM} check ({err})",
            hint="the transfer was damaged in transit; run it again",
        ) from None
    except auth_errors.GoogleAuthError as err:
        raise StorageAccessDenied(
            f"cannot {action.verb} {uri}: the Google credentials did not work ({err})",
            hint="refresh them with `gcloud auth application-default login` or check "
            "GOOGLE_APPLICATION_CREDENTIALS",
        ) from None
    except (api.GoogleAPICallError, api.RetryError, OSError) as err:
        raise ChalklineError(
            f"cannot {action.verb} {uri}: {err}",
            hint="Cloud Storage kept failing after retries; check the network "
            f"(or {EMULATOR_ENV} when using an emulator)",
        ) from None


def crc32c_of_bytes(data: bytes) -> str:
    """The CRC32C of ``data`` as Cloud Storage reports it (base64, big-endian)."""
    return _encode(google_crc32c.value(data))


def crc32c_of_file(path: Path) -> str:
    """The CRC32C of a file, read in chunks so a video needs no memory."""
    crc = 0
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            crc = google_crc32c.extend(crc, chunk)
    return _encode(crc)


def _encode(crc: int) -> str:
    return base64.b64encode(int(crc).to_bytes(4, "big")).decode()


def _content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


@dataclass(frozen=True)
class GcsStorage:
    """Objects below ``gs://bucket/prefix``, written under generation preconditions."""

    bucket: str
    prefix: str = ""
    client: Any = field(default_factory=make_client, repr=False, compare=False)

    @classmethod
    def from_uri(cls, root_uri: str, client: Any = None) -> GcsStorage:
        """The storage rooted at ``gs://bucket[/prefix]``; the client defaults to make_client()."""
        bucket, name = split_uri(root_uri.rstrip("/"))
        return cls(bucket, name.strip("/"), make_client() if client is None else client)

    @property
    def root_uri(self) -> str:
        return f"gs://{self.bucket}/{self.prefix}" if self.prefix else f"gs://{self.bucket}"

    def join(self, *parts: str) -> str:
        segments = [s for part in parts for s in part.split("/") if s not in ("", ".")]
        if ".." in segments:
            raise InvalidSpec(f"{'/'.join(parts)!r}: '..' has no meaning in a gs:// object name")
        return "/".join([self.root_uri, *segments])

    def write_bytes(self, uri: str, data: bytes, *, if_generation_match: int | None = None) -> None:
        """Store ``data`` at ``uri`` under a generation precondition (module docstring)."""

        def put(blob: Any, generation: int) -> None:
            blob.upload_from_string(
                data,
                content_type=_content_type(blob.name),
                if_generation_match=generation,
                checksum=CHECKSUM,
                retry=DEFAULT_RETRY_IF_GENERATION_SPECIFIED,
            )

        def same(current: Any) -> bool:
            return bool(current.size == len(data) and current.crc32c == crc32c_of_bytes(data))

        self._write(uri, put, same, if_generation_match)

    def read_bytes(self, uri: str) -> bytes:
        with _gcs_errors(uri, _READ):
            data = self._blob(uri).download_as_bytes(checksum=CHECKSUM, retry=DEFAULT_RETRY)
        return bytes(data)

    @contextlib.contextmanager
    def open_read(self, uri: str) -> Iterator[BinaryIO]:
        """A seekable reader of ``uri`` that fetches only the ranges read, never the whole object.

        Probing a clip reads its container headers: the MP4 ``moov`` box, a
        few KiB to a few hundred KiB at the head (faststart) or at the tail.
        Each buffer miss costs one ranged GET of ``READ_CHUNK_BYTES`` (256
        KiB): big enough that a header needs one to three round trips, small
        enough that a probe fetches well under a MiB of a clip of hundreds
        (the client's default, 40 MiB, would download most clips whole).

        The object is looked up first, so a missing one fails here with its
        URI, and ``seek(0, 2)`` knows the size without another request.
        Ranges carry no CRC32C (the server knows only the whole object's); a
        damaged header makes FFmpeg fail, and :meth:`download` checks the rest.
        """
        blob = self._stat(uri)
        if blob is None:
            folder = uri.rsplit("/", 1)[0]
            raise SourceNotFound(
                f"{uri} does not exist",
                hint=f"check the name; `gcloud storage ls {folder}/` lists what is there",
            )
        with (
            _gcs_errors(uri, _READ),
            blob.open("rb", chunk_size=READ_CHUNK_BYTES, retry=DEFAULT_RETRY) as reader,
        ):
            yield reader

    def upload(self, local: Path, uri: str, *, if_generation_match: int | None = None) -> None:
        """Upload the file ``local`` to ``uri`` under a generation precondition."""
        if not local.is_file():
            raise SourceNotFound(f"cannot upload {local}: it is not a file")

        def put(blob: Any, generation: int) -> None:
            blob.upload_from_filename(
                str(local),
                content_type=_content_type(blob.name),
                if_generation_match=generation,
                checksum=CHECKSUM,
                retry=DEFAULT_RETRY_IF_GENERATION_SPECIFIED,
            )

        def same(current: Any) -> bool:
            return bool(
                current.size == local.stat().st_size and current.crc32c == crc32c_of_file(local)
            )

        self._write(uri, put, same, if_generation_match)

    def download(self, uri: str, local: Path) -> None:
        """Download to a temporary file beside ``local``, renamed only once verified."""
        with atomic_output(local) as tmp, _gcs_errors(uri, _READ):
            self._blob(uri).download_to_filename(str(tmp), checksum=CHECKSUM, retry=DEFAULT_RETRY)

    def exists(self, uri: str) -> bool:
        return self.generation(uri) != 0

    def generation(self, uri: str) -> int:
        """The live generation of ``uri``, 0 when there is no object (GCS's "absent")."""
        blob = self._stat(uri)
        return 0 if blob is None else int(blob.generation)

    def list(self, prefix_uri: str) -> list[str]:
        """Objects below the folder ``prefix_uri`` (``a/b`` never matches ``a/bc``)."""
        bucket, name = split_uri(prefix_uri)
        folder = name.strip("/") + "/" if name.strip("/") else ""
        with _gcs_errors(prefix_uri, _LIST):
            names = [
                blob.name
                for blob in self.client.list_blobs(bucket, prefix=folder, retry=DEFAULT_RETRY)
                if not blob.name.endswith("/")  # console "folder" placeholders hold no data
            ]
        return sorted(f"gs://{bucket}/{n}" for n in names)

    def delete_prefix(self, prefix_uri: str) -> int:
        """Delete every object below ``prefix_uri``, one by one; return how many went.

        Objects that vanish meanwhile (another cleanup, a retried delete that
        had succeeded) are skipped. A bare bucket is refused: cleanup deletes
        a RenderJob's folder, never everything.
        """
        bucket, name = split_uri(prefix_uri)
        if not name.strip("/"):
            raise InvalidSpec(f"refusing to delete everything in gs://{bucket}")
        deleted = 0
        for uri in self.list(prefix_uri):
            with _gcs_errors(uri, _DELETE), contextlib.suppress(api.NotFound):
                self._blob(uri).delete(retry=DEFAULT_RETRY)
                deleted += 1
        return deleted

    def local_path(self, uri: str) -> Path | None:
        """Always None: a gs:// object has to be downloaded before a tool can open it."""
        return None

    def signed_url(self, uri: str, expires: timedelta = timedelta(hours=1)) -> str | None:
        """A V4 signed HTTPS GET URL for ``uri`` (the final video), or None if we cannot sign.

        Signing needs a private key: a service-account key file signs locally,
        and the token-only credentials of Cloud Run or GKE sign through the
        IAM signBlob API (the account needs ``iam.serviceAccounts.signBlob``
        on itself). Anonymous credentials (an emulator) and user credentials
        have no key, so this returns None and the caller reports the plain
        gs:// URI instead.
        """
        # The client keeps its credentials private; there is no public accessor.
        credentials = getattr(self.client, "_credentials", None)
        if credentials is None or isinstance(credentials, AnonymousCredentials):
            return None
        blob = self._blob(uri)
        with _gcs_errors(uri, _SIGN):
            if isinstance(credentials, Signing):
                return str(blob.generate_signed_url(version="v4", expiration=expires))
            if not hasattr(credentials, "service_account_email"):
                return None  # user credentials: no key and no account to sign as
            # A refresh fetches the token signBlob needs and, on Cloud Run,
            # turns the account's placeholder name "default" into its email.
            credentials.refresh(Request())
            return str(
                blob.generate_signed_url(
                    version="v4",
                    expiration=expires,
                    service_account_email=credentials.service_account_email,
                    access_token=credentials.token,
                )
            )

    def _write(
        self,
        uri: str,
        put: Callable[[Any, int], None],
        same_content: Callable[[Any], bool],
        if_generation_match: int | None,
    ) -> None:
        """Run ``put`` under a generation precondition; explain a lost race."""
        expected = self.generation(uri) if if_generation_match is None else if_generation_match
        blob = self._blob(uri)
        try:
            with _gcs_errors(uri, _WRITE):
                put(blob, expected)
        except api.PreconditionFailed:
            current = self._stat(uri)
            if current is not None and same_content(current):
                return
            seen = "no object" if expected == 0 else f"generation {expected}"
            now = "it is gone" if current is None else f"it is generation {current.generation}"
            raise StorageConflict(
                f"{uri} changed while chalkline was writing it: expected {seen}, {now}",
                hint="another writer uses the same object; check that no other "
                "operator or run shares this storage prefix, then retry",
            ) from None

    def _object(self, uri: str) -> tuple[str, str]:
        bucket, name = split_uri(uri)
        if not name or name.endswith("/"):
            raise InvalidSpec(f"{uri!r} names a folder, not an object")
        return bucket, name

    def _stat(self, uri: str) -> Any:
        """The object's metadata (generation, size, crc32c), or None when absent."""
        bucket, name = self._object(uri)
        with _gcs_errors(uri, _READ):
            return self.client.bucket(bucket).get_blob(name, retry=DEFAULT_RETRY)

    def _blob(self, uri: str) -> Any:
        bucket, name = self._object(uri)
        return self.client.bucket(bucket).blob(name)
