"""``--backend`` and the Cloud Run options of ``render`` and ``stitch``, declared once.

Both commands can run here or on Cloud Run Jobs. The options that say where
(project, region, bucket, image, ...) are the same for both, so they are one
decorator that gathers them into a single ``cloudrun`` argument of type
:class:`CloudRunOptions`; ``target()`` checks them and builds the
:class:`~chalkline.drivers.cloudrun_render.CloudRunTarget` the remote driver needs.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import click

from chalkline.core.errors import InvalidSpec
from chalkline.drivers.cloudrun_render import CloudRunTarget

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class CloudRunOptions:
    """The Cloud Run options as typed, before they are checked."""

    backend: str
    project: str | None
    region: str | None
    bucket: str | None
    image: str | None
    endpoint: str | None
    service_account: str | None
    job_command: str
    poll_interval: float

    @property
    def remote(self) -> bool:
        return self.backend == "cloudrun"

    def refuse_when_local(self) -> None:
        """``--bucket`` without ``--backend cloudrun`` is a mistake, not a no-op."""
        if not self.remote and self.bucket:
            raise InvalidSpec("--bucket needs --backend cloudrun")

    def target(self) -> CloudRunTarget:
        """Where to run; names the option that is missing."""
        if not self.bucket:
            raise InvalidSpec("--backend cloudrun needs --bucket", hint="a GCS bucket name")
        if not self.image:
            raise InvalidSpec(
                "--backend cloudrun needs --image", hint="or set CHALKLINE_CLOUDRUN_IMAGE"
            )
        command = tuple(shlex.split(self.job_command))
        if not command:
            raise InvalidSpec("--command must name the image's chalkline command")
        return CloudRunTarget(
            project=self.project,
            region=self.region,
            bucket=self.bucket.removeprefix("gs://").rstrip("/"),
            image=self.image,
            endpoint=self.endpoint,
            service_account=self.service_account,
            command=command,
            poll_interval=self.poll_interval,
        )


_OPTIONS = (
    click.option(
        "--backend",
        type=click.Choice(["local", "cloudrun"]),
        default="local",
        show_default=True,
        help="Run here, or on Cloud Run Jobs with files in a GCS bucket (the operator's executor).",
    ),
    click.option(
        "--project", envvar="CHALKLINE_CLOUDRUN_PROJECT", help="cloudrun: the Google Cloud project."
    ),
    click.option(
        "--region", envvar="CHALKLINE_CLOUDRUN_REGION", help="cloudrun: the Cloud Run region."
    ),
    click.option("--bucket", help="cloudrun: the GCS bucket for inputs, intermediates and video."),
    click.option(
        "--image", envvar="CHALKLINE_CLOUDRUN_IMAGE", help="cloudrun: the chalkline worker image."
    ),
    click.option(
        "--endpoint",
        envvar="CHALKLINE_CLOUDRUN_ENDPOINT",
        help="cloudrun: the Cloud Run Admin API endpoint (an http:// one means no credentials).",
    ),
    click.option(
        "--service-account",
        envvar="CHALKLINE_CLOUDRUN_SERVICE_ACCOUNT",
        help="cloudrun: the service account the Jobs run as.",
    ),
    click.option(
        "--command",
        "job_command",
        envvar="CHALKLINE_CLOUDRUN_COMMAND",
        default="chalkline",
        show_default=True,
        help="cloudrun: the image's chalkline command, shell-quoted.",
    ),
    click.option(
        "--poll-interval",
        envvar="CHALKLINE_CLOUDRUN_POLL_INTERVAL",
        type=click.FloatRange(min=0),
        default=5.0,
        show_default=True,
        help="cloudrun: seconds between two reads of an execution (the API's read quota).",
    ),
)
_NAMES = tuple(f.name for f in fields(CloudRunOptions))


def cloudrun_options(command: F) -> F:
    """Add ``--backend`` and the Cloud Run options; pass them as ``cloudrun=CloudRunOptions``."""

    @functools.wraps(command)
    def gathered(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in _NAMES}
        return command(*args, cloudrun=CloudRunOptions(**values), **kwargs)

    decorated: Any = gathered
    for option in reversed(_OPTIONS):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]
