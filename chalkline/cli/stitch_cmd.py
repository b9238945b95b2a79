"""``chalkline stitch``: join ready clips into one video with FFmpeg."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import click

from chalkline.cli.options import given_options, refuse_options_beside_plan
from chalkline.cli.remote_options import RemoteOptions, remote_options
from chalkline.core.errors import InvalidSpec
from chalkline.core.quantities import match_resolution
from chalkline.core.records import PLAN_ENV
from chalkline.core.spec import TIERS
from chalkline.drivers.local_render import default_cache_dir
from chalkline.drivers.progress import human_bytes, make_display, stitch_summary
from chalkline.drivers.remote_render import (
    RemoteStitchRequest,
    remote_summary,
    stitch_remotely,
)
from chalkline.stitcher.concat import stitch_clips

#: Largest side libx264 and common players handle comfortably (8K).
MAX_SIDE = 8192
MAX_FPS = 240
#: Options that describe a stitch on this machine, which a stitch order replaces.
LOCAL_OPTIONS = {
    "output": "-o/--output",
    "resolution": "--resolution",
    "fps": "--fps",
    "copy_audio": "--copy-audio",
    "reencode": "--reencode",
}


@click.command()
@click.argument("clips", metavar="CLIP...", nargs=-1)
@click.option(
    "--plan",
    envvar=PLAN_ENV,
    metavar="URI",
    help=f"Stitch order (gs:// or file://) naming the clips, the output and where to "
    f"write the result JSON; env {PLAN_ENV}. Replaces CLIP... and -o.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="The video to write (.mp4, .mov or .m4v). Its folder must exist; "
    "written only when complete.",
)
@click.option(
    "--resolution",
    metavar="WxH",
    help="Output size, e.g. 1080x1920 (even numbers). Default: the first clip's. "
    "Clips of another shape are fitted inside and padded with black.",
)
@click.option(
    "--fps",
    metavar="RATE",
    help="Output frame rate, e.g. 30, 29.97 or 30000/1001. Default: the first clip's.",
)
@click.option(
    "--copy-audio",
    is_flag=True,
    help="When clips can be stream-copied, copy their audio too instead of re-encoding it: "
    "a little faster, but AAC audio drifts about 21 ms per join.",
)
@click.option(
    "--reencode",
    is_flag=True,
    help="Re-encode everything with libx264 even when a stream copy would do.",
)
@click.option(
    "--progress/--no-progress",
    "live",
    default=None,
    help="Live progress bar (default: when stdout is a terminal) or plain lines.",
)
@click.option(
    "--tier",
    type=click.Choice(list(TIERS)),
    default="auto",
    show_default=True,
    help="cloudrun, kubernetes: the smallest stitch tier (auto: sized from the clips).",
)
@remote_options
@click.pass_context
def stitch(
    ctx: click.Context,
    clips: tuple[str, ...],
    plan: str | None,
    output: Path | None,
    resolution: str | None,
    fps: str | None,
    copy_audio: bool,
    reencode: bool,
    live: bool | None,
    tier: str,
    remote: RemoteOptions,
) -> None:
    """Join CLIPs, in the order given, into one video at OUTPUT.

    When every clip has the same codec, size, frame rate, pixel format and
    audio format, the video is copied without re-encoding (seconds, not
    minutes) and only the audio is re-encoded, so that it stays in sync.
    Otherwise every clip is scaled to fit the first clip's size (or
    --resolution), padded, converted to its frame rate (or --fps) and
    re-encoded with libx264; clips without sound get silence so that the
    audio stays in step with the picture. The end of the run says which mode
    was used and why.

    Nothing is written to OUTPUT unless the stitch succeeds.

    With --backend cloudrun (or kubernetes) the clips (local files, uploaded
    first, or gs:// objects) are joined by a Cloud Run stitch Job (or a
    Kubernetes Job) of the tier they need, the way the operator does it; the
    video is downloaded to OUTPUT and what was put in --bucket is deleted.
    --resolution, --fps, --copy-audio and --reencode apply to local stitches
    only.

    With --plan, the clips, the output and a result URI come from a stitch
    order in storage (what a Cloud Run stitch job runs); the result (mode,
    reason, duration, sizeBytes, seconds) is stored there and printed as JSON.

    \b
    Examples:
      chalkline stitch intro.mp4 proof.mp4 -o out/lesson.mp4
      chalkline stitch reel/*.mp4 -o reel.mp4 --resolution 1080x1920 --fps 30
      chalkline stitch --plan gs://bucket/jobs/j/stitch.json
      chalkline stitch reel/*.mp4 -o reel.mp4 --backend cloudrun \\
        --project my-project --region europe-west1 --bucket my-bucket \\
        --image europe-docker.pkg.dev/my-project/chalkline/worker:1.0
    """
    if plan is not None:
        refuse_options_beside_plan(
            ctx,
            plan,
            LOCAL_OPTIONS,
            hint="a stitch order names the clips and the output itself",
            also_given=["CLIP..."] if clips else [],
        )
        from chalkline.stitcher.planned_stitch import run_stitch_order

        details = run_stitch_order(plan)
        click.echo(json.dumps(details, indent=2, sort_keys=True))
        return
    if not clips or output is None:
        raise InvalidSpec(
            "give the CLIPs to join and -o OUTPUT, or --plan URI",
            hint="for example: chalkline stitch a.mp4 b.mp4 -o out.mp4",
        )
    if remote.remote:
        _stitch_remotely(ctx, clips, output, tier, live, remote)
        return
    remote.refuse_when_local()
    if tier != "auto":
        raise InvalidSpec(
            "--tier needs --backend cloudrun or kubernetes",
            hint="a local stitch uses this machine",
        )
    size = parse_output_resolution(resolution) if resolution is not None else None
    rate = parse_fps(fps) if fps is not None else None
    with make_display(live) as display:
        display.stitch_start(len(clips))
        report = stitch_clips(
            [Path(clip) for clip in clips],
            output,
            resolution=size,
            fps=rate,
            copy_audio=copy_audio,
            force_reencode=reencode,
            on_progress=display.stitch_progress,
        )
    click.echo(stitch_summary(report, report.seconds))


def _stitch_remotely(
    ctx: click.Context,
    clips: tuple[str, ...],
    output: Path,
    tier: str,
    live: bool | None,
    remote: RemoteOptions,
) -> None:
    local_only = given_options(ctx, {k: v for k, v in LOCAL_OPTIONS.items() if k != "output"})
    if local_only:
        raise InvalidSpec(
            f"{', '.join(local_only)} cannot be used with --backend {remote.backend}",
            hint="a remote stitch keeps the first clip's size and rate, as the operator does",
        )
    request = RemoteStitchRequest(tuple(clips), output, tier, default_cache_dir())
    target = remote.target()

    def announce(path: Path) -> None:
        click.echo(f"uploading {path} ({human_bytes(path.stat().st_size)})")

    with make_display(live) as display:
        result = stitch_remotely(request, target, display, on_upload=announce)
    click.echo(remote_summary(result))


def parse_output_resolution(text: str) -> tuple[int, int]:
    """``"1080x1920"`` -> ``(1080, 1920)``, or a message that shows the form.

    Stricter than the tier table's resolutions: the output is encoded, so each
    side must be even and at most :data:`MAX_SIDE`.
    """
    size = match_resolution(text)
    if size is None:
        raise InvalidSpec(
            f"--resolution {text!r} is not WIDTHxHEIGHT", hint="for example --resolution 1080x1920"
        )
    for side in size:
        if not 2 <= side <= MAX_SIDE or side % 2:
            raise InvalidSpec(
                f"--resolution {text}: each side must be an even number from 2 to {MAX_SIDE}",
                hint="H.264 in yuv420p needs even sizes, e.g. 1080x1920 or 854x480",
            )
    return size


def parse_fps(text: str) -> Fraction:
    """``"30"``, ``"29.97"`` or ``"30000/1001"`` -> an exact rate."""
    try:
        rate = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise InvalidSpec(
            f"--fps {text!r} is not a frame rate", hint="for example --fps 30 or --fps 30000/1001"
        ) from None
    if not 0 < rate <= MAX_FPS:
        raise InvalidSpec(f"--fps {text}: the frame rate must be above 0 and at most {MAX_FPS}")
    return rate
