"""``chalkline tier``: which stitch tier a set of clips needs, and what it costs."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from chalkline.core.errors import InvalidSpec
from chalkline.core.quantities import parse_resolution
from chalkline.stitcher.modes import MODES, StitchMode
from chalkline.stitcher.tier_table import load_tier_table
from chalkline.stitcher.tiers import BYTES_PER_MB, StitchLoad, TierChoice, choose_tier

#: Without --resolution: 1080p, which (orientation not mattering) is also the
#: 1080x1920 portrait reel, the case the tiers were measured on.
DEFAULT_RESOLUTION = "1920x1080"
#: Without --duration, each clip counts as a reel clip of this many seconds.
DEFAULT_CLIP_SECONDS = 8.0


@click.command()
@click.option("--clips", required=True, type=int, metavar="N", help="Number of clips to join.")
@click.option(
    "--size-mb",
    required=True,
    type=float,
    metavar="X",
    help="Total size of all clips in MB (10^6 bytes), e.g. 99.5.",
)
@click.option(
    "--resolution",
    default=DEFAULT_RESOLUTION,
    show_default=True,
    metavar="WxH",
    help="Frame size of the largest clip; orientation does not matter "
    "(1080x1920 counts as 1920x1080). Any 4K input needs xlarge.",
)
@click.option(
    "--duration",
    type=float,
    metavar="S",
    help=f"Total duration of all clips in seconds. "
    f"Default: {DEFAULT_CLIP_SECONDS:g} s per clip (a reel clip).",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="copy",
    show_default=True,
    help="copy: join the compressed streams as they are (one thread, seconds); "
    "reencode: decode and encode every frame (all cores, minutes), one tier up.",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CHALKLINE_TIERS",
    show_envvar=True,
    metavar="FILE",
    help="YAML file overriding the packaged tier table, in whole or in part "
    "(see docs/configuration.md, 'Stitch tiers').",
)
@click.option("--json", "as_json", is_flag=True, help="Print the choice as one JSON object.")
def tier(
    clips: int,
    size_mb: float,
    resolution: str,
    duration: float | None,
    mode: StitchMode,
    config: Path | None,
    as_json: bool,
) -> None:
    """Say which stitch tier (CPU, memory, timeout) joining the clips needs, and its cost.

    \b
    The tier is the smallest whose limits all hold, then moved up by:
      - the mode: a re-encode steps up one tier (it uses every core, a copy one);
      - the timeout: twice the estimated run time must fit in the tier's timeout.

    \b
    Default table (the last tier takes anything else, and any 4K input):
      small    <= 3 clips,  < 100 MB, <= 120 s, <= 1440p   1 vCPU   2Gi   600 s
      medium   <= 6 clips,  < 300 MB, <= 300 s, <= 1440p   2 vCPU   4Gi   900 s
      large    <= 10 clips, < 600 MB, <= 600 s, <= 1440p   4 vCPU   8Gi  1200 s
      xlarge   anything else                               8 vCPU  16Gi  1800 s

    The estimate adds start-up, transfer and the join itself (a copy runs at
    about 20x real time; a re-encode at about 27 megapixel-frames per
    vCPU-second, 30 fps assumed); the cost prices it at Cloud Run's upper
    rates, and the maximum cost is the bill if the job runs to its timeout.
    Every figure comes from the tier table: override it with --config.

    \b
    Examples:
      chalkline tier --clips 8 --size-mb 120
      chalkline tier --clips 3 --size-mb 60 --resolution 2160x3840
      chalkline tier --clips 10 --size-mb 80 --mode reencode --json
    """
    load = _load(clips, size_mb, resolution, duration, mode)
    choice = choose_tier(load, load_tier_table(config))
    if as_json:
        click.echo(json.dumps(_as_json(choice, load, duration is None), indent=2))
    else:
        click.echo(_as_text(choice, load, duration is None))


def _load(
    clips: int, size_mb: float, resolution: str, duration: float | None, mode: StitchMode
) -> StitchLoad:
    """The options as a :class:`StitchLoad`; it rejects values out of range."""
    if not size_mb >= 0:
        raise InvalidSpec(f"--size-mb must be at least 0, got {size_mb:g}")
    width, height = parse_resolution(resolution)
    total = clips * DEFAULT_CLIP_SECONDS if duration is None else duration
    return StitchLoad(clips, round(size_mb * BYTES_PER_MB), width, height, total, mode)


def _as_json(choice: TierChoice, load: StitchLoad, duration_assumed: bool) -> dict[str, Any]:
    """The choice with figures rounded to what an estimate can claim, and its input."""
    data = asdict(choice)
    data["estimated_seconds"] = round(choice.estimated_seconds, 1)
    data["estimated_cost_usd"] = round(choice.estimated_cost_usd, 6)
    data["max_cost_usd"] = round(choice.max_cost_usd, 6)
    data["reasons"] = list(choice.reasons)
    data["load"] = {
        "clips": load.clips,
        "size_mb": load.size_mb,
        "resolution": f"{load.width}x{load.height}",
        "duration_s": load.duration_s,
        "duration_assumed": duration_assumed,
        "mode": load.mode,
    }
    return data


def _as_text(choice: TierChoice, load: StitchLoad, duration_assumed: bool) -> str:
    """A small two-column table, reasons last."""
    assumed = f" ({DEFAULT_CLIP_SECONDS:g} s per clip assumed)" if duration_assumed else ""
    frame = f"{load.width}x{load.height}"
    given = f"{load.clips} clips, {load.size_mb:g} MB, {frame}, {load.duration_s:g} s{assumed}"
    reasons = choice.reasons or (f"every limit of {choice.tier} holds",)
    rows = [
        ("tier", choice.tier),
        ("cpu", choice.cpu),
        ("memory", choice.memory),
        ("timeout", f"{choice.timeout_s} s"),
        ("estimate", f"~{choice.estimated_seconds:.0f} s, ~{_usd(choice.estimated_cost_usd)}"),
        ("max cost", f"{_usd(choice.max_cost_usd)} (if it runs to the timeout)"),
        ("input", f"{given}, {load.mode}"),
        *(("why" if i == 0 else "", reason) for i, reason in enumerate(reasons)),
    ]
    return "\n".join(f"{label:<10}{value}" for label, value in rows)


def _usd(amount: float) -> str:
    """Dollars with four decimals, or six for fractions of a cent."""
    return f"${amount:.4f}" if amount >= 0.01 else f"${amount:.6f}"
