"""``--backend`` and the remote options of ``render`` and ``stitch``, declared once.

Both commands can run here, on Cloud Run Jobs, or as Jobs on the cluster of
the current kubeconfig context. The options that say where (bucket, image,
project, region, namespace, ...) are the same for both, so they are one
decorator that gathers them into a single ``remote`` argument of type
:class:`RemoteOptions`; ``target()`` checks them and builds the
:class:`~chalkline.drivers.remote_render.RemoteTarget` the remote driver needs.
"""

from __future__ import annotations

import functools
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import click

from chalkline.core.errors import InvalidSpec
from chalkline.drivers.remote_render import PLACES, RemoteTarget

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RemoteOptions:
    """The remote options as typed, before they are checked."""

    backend: str
    namespace: str | None
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
        return self.backend in PLACES

    def refuse_when_local(self) -> None:
        """``--bucket`` without a remote ``--backend`` is a mistake, not a no-op."""
        if not self.remote and self.bucket:
            raise InvalidSpec("--bucket needs --backend cloudrun or kubernetes")

    def target(self) -> RemoteTarget:
        """Where to run; names the option that is missing."""
        backend = self.backend
        if not self.bucket:
            raise InvalidSpec(f"--backend {backend} needs --bucket", hint="a GCS bucket name")
        image_env = f"CHALKLINE_{backend.upper()}_IMAGE"
        image = self.image or (os.environ.get(image_env) if backend == "kubernetes" else None)
        if not image:
            raise InvalidSpec(f"--backend {backend} needs --image", hint=f"or set {image_env}")
        if self.namespace and backend != "kubernetes":
            raise InvalidSpec("--namespace needs --backend kubernetes")
        command = tuple(shlex.split(self.job_command))
        if not command:
            raise InvalidSpec("--command must name the image's chalkline command")
        return RemoteTarget(
            project=self.project,
            region=self.region,
            bucket=self.bucket.removeprefix("gs://").rstrip("/"),
            image=image,
            endpoint=self.endpoint,
            service_account=self.service_account,
            command=command,
            poll_interval=self.poll_interval,
            backend=backend,
            namespace=self.namespace,
        )


_OPTIONS = (
    click.option(
        "--backend",
        type=click.Choice(["local", *PLACES]),
        default="local",
        show_default=True,
        help="Run here; on Cloud Run Jobs; or as Jobs on the cluster of the current kubeconfig "
        "context (the operator's executors), with files in a GCS bucket.",
    ),
    click.option(
        "--namespace",
        help="kubernetes: the namespace the Jobs run in [default: the kubeconfig context's].",
    ),
    click.option(
        "--project", envvar="CHALKLINE_CLOUDRUN_PROJECT", help="cloudrun: the Google Cloud project."
    ),
    click.option(
        "--region", envvar="CHALKLINE_CLOUDRUN_REGION", help="cloudrun: the Cloud Run region."
    ),
    click.option(
        "--bucket", help="cloudrun, kubernetes: the GCS bucket for inputs, intermediates, video."
    ),
    click.option(
        "--image",
        envvar="CHALKLINE_CLOUDRUN_IMAGE",
        help="cloudrun, kubernetes: the chalkline worker image "
        "(kubernetes: else CHALKLINE_KUBERNETES_IMAGE).",
    ),
    click.option(
        "--endpoint",
        envvar="CHALKLINE_CLOUDRUN_ENDPOINT",
        help="cloudrun: the Cloud Run Admin API endpoint (an http:// one means no credentials).",
    ),
    click.option(
        "--service-account",
        envvar="CHALKLINE_CLOUDRUN_SERVICE_ACCOUNT",
        help="cloudrun, kubernetes: the service account the Jobs run as.",
    ),
    click.option(
        "--command",
        "job_command",
        envvar="CHALKLINE_CLOUDRUN_COMMAND",
        default="chalkline",
        show_default=True,
        help="cloudrun, kubernetes: the image's chalkline command, shell-quoted.",
    ),
    click.option(
        "--poll-interval",
        envvar="CHALKLINE_CLOUDRUN_POLL_INTERVAL",
        type=click.FloatRange(min=0),
        default=5.0,
        show_default=True,
        help="cloudrun, kubernetes: seconds between two reads of an execution.",
    ),
)
_NAMES = tuple(f.name for f in fields(RemoteOptions))


def remote_options(command: F) -> F:
    """Add ``--backend`` and the remote options; pass them as ``remote=RemoteOptions``."""

    @functools.wraps(command)
    def gathered(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in _NAMES}
        return command(*args, remote=RemoteOptions(**values), **kwargs)

    decorated: Any = gathered
    for option in reversed(_OPTIONS):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]
