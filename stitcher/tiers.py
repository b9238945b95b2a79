"""Stitch tiers: how much CPU, memory and time the job that joins clips gets.

Cloud Run cannot change a job's CPU or memory per execution, so each tier is
its own job definition and a stitch is routed to one. The choice must be cheap
for the common case (a few short portrait clips, stream-copied) and safe for the
rare one (4K, long, or re-encoded), so it is made by four explainable rules,
applied in order, each of which can only move the choice up:

1. **limits**: the smallest tier whose limits (clips, size, duration,
   resolution) all hold;
2. **mode**: a re-encode steps up ``mode_step_up[mode]`` tiers, because
   libx264 uses every core it is given while a stream copy uses one;
3. **minimum**: at least the tier a caller asks for (a user's
   ``stitch.tier: large``, or :func:`next_tier` after an out-of-memory kill);
4. **timeout**: while the estimated run time times ``timeout_headroom`` exceeds
   the tier's timeout, the next tier.

The numbers live in ``tiers.yaml`` beside this module (configuration, not
code), loaded and checked by :mod:`~chalkline.stitcher.tier_table`.
:func:`choose_tier` is pure: no file, clock or network, so tests state its
behaviour as tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from chalkline.core.errors import InvalidSpec
from chalkline.core.quantities import fits_within, format_cpu, format_memory_gib
from chalkline.stitcher.modes import MODES, StitchMode

BYTES_PER_MB = 1_000_000
_FOUR_K = (3840, 2160)
_MODE_LABELS: dict[str, str] = {"copy": "stream copy", "reencode": "re-encode"}


# --- the model -------------------------------------------------------------------


@dataclass(frozen=True)
class StitchLoad:
    """What a stitch has to do: the inputs the tier is chosen from.

    ``width`` x ``height`` is the largest clip's frame (or the output's, for a
    re-encode); ``duration_s`` is the total of all clips.
    """

    clips: int
    size_bytes: int
    width: int
    height: int
    duration_s: float
    mode: StitchMode = "copy"

    def __post_init__(self) -> None:
        if self.clips < 1:
            raise InvalidSpec(f"a stitch needs at least 1 clip, got {self.clips}")
        if self.size_bytes < 0:
            raise InvalidSpec(f"total size cannot be negative, got {self.size_bytes} bytes")
        if self.width < 1 or self.height < 1:
            raise InvalidSpec(f"invalid resolution {self.width}x{self.height}")
        if not 0 < self.duration_s < math.inf:
            raise InvalidSpec(f"total duration must be above 0 seconds, got {self.duration_s}")
        if self.mode not in MODES:
            raise InvalidSpec(f"unknown stitch mode {self.mode!r}", hint="use copy or reencode")

    @property
    def size_mb(self) -> float:
        """Total size in MB (10^6 bytes), the unit the limits are written in."""
        return self.size_bytes / BYTES_PER_MB


@dataclass(frozen=True)
class Limits:
    """What a tier accepts; ``None`` means no limit. See ``tiers.yaml`` for units."""

    max_clips: int | None = None
    max_size_mb: float | None = None
    max_duration_s: float | None = None
    max_resolution: tuple[int, int] | None = None

    def breaches(self, load: StitchLoad, tier: str) -> dict[str, str]:
        """Each limit ``load`` breaks, by kind, with a sentence a user can act on."""
        found: dict[str, str] = {}
        if self.max_clips is not None and load.clips > self.max_clips:
            found["clips"] = f"{load.clips} clips: more than {tier}'s limit of {self.max_clips}"
        if self.max_size_mb is not None and load.size_bytes >= self.max_size_mb * BYTES_PER_MB:
            found["size"] = (
                f"{_num(load.size_mb)} MB: not under {tier}'s limit of {_num(self.max_size_mb)} MB"
            )
        if self.max_duration_s is not None and load.duration_s > self.max_duration_s:
            found["duration"] = (
                f"{_num(load.duration_s)} s in all: longer than {tier}'s limit "
                f"of {_num(self.max_duration_s)} s"
            )
        box = self.max_resolution
        if box is not None and not fits_within(load.width, load.height, box):
            found["resolution"] = (
                f"{_describe_frame(load.width, load.height)}: larger than {tier}'s limit "
                f"of {box[0]}x{box[1]}"
            )
        return found


@dataclass(frozen=True)
class Tier:
    """One stitch job size: what it accepts and what it gets."""

    name: str
    limits: Limits
    cpu: float
    memory_gib: float
    timeout_s: int

    @property
    def memory(self) -> str:
        """Memory as the quantity Cloud Run and Kubernetes take, e.g. ``"2Gi"``."""
        return format_memory_gib(self.memory_gib)

    def usd_per_second(self, prices: Prices) -> float:
        """What one second of this job costs: vCPU-seconds plus GiB-seconds."""
        return self.cpu * prices.cpu_second_usd + self.memory_gib * prices.gib_second_usd


@dataclass(frozen=True)
class Prices:
    """Cloud Run's price per vCPU-second and per GiB-second, in US dollars."""

    cpu_second_usd: float
    gib_second_usd: float


@dataclass(frozen=True)
class Estimate:
    """Throughput figures for the run-time estimate (measured or assumed, see ``tiers.yaml``)."""

    overhead_s: float
    transfer_mb_per_s: float
    copy_realtime_factor: float
    reencode_megapixel_frames_per_cpu_second: float
    assumed_fps: float
    timeout_headroom: float


@dataclass(frozen=True)
class TierTable:
    """Every tier, smallest first, with the rules' figures and where they came from."""

    tiers: tuple[Tier, ...]
    mode_step_up: Mapping[str, int]
    prices: Prices
    estimate: Estimate
    source: str = field(default="", compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        """Tier names, smallest first."""
        return tuple(tier.name for tier in self.tiers)

    def index(self, name: str) -> int:
        """Position of tier ``name``, or an error listing the tiers that exist."""
        try:
            return self.names.index(name)
        except ValueError:
            raise InvalidSpec(
                f"unknown stitch tier {name!r}", hint=f"use one of: {', '.join(self.names)}"
            ) from None

    def tier(self, name: str) -> Tier:
        """The tier called ``name``."""
        return self.tiers[self.index(name)]


@dataclass(frozen=True)
class TierChoice:
    """The chosen tier, ready for a job definition and a status, with why and what it costs.

    ``cpu`` and ``memory`` are quantities as Cloud Run takes them (``"2"``,
    ``"4Gi"``). ``max_cost_usd`` is the bill if the job runs to its timeout.
    ``fits_timeout`` is false only when even the largest tier's timeout is
    shorter than the estimate times the headroom.
    """

    tier: str
    cpu: str
    memory: str
    timeout_s: int
    estimated_seconds: float
    estimated_cost_usd: float
    max_cost_usd: float
    fits_timeout: bool
    reasons: tuple[str, ...]


# --- choosing --------------------------------------------------------------------


def choose_tier(load: StitchLoad, table: TierTable, *, minimum: str | None = None) -> TierChoice:
    """Size the stitch job for ``load``: the four rules of this module, in order.

    ``minimum`` is a floor on the final choice, applied after the mode's step-up,
    so that escalating with ``minimum=next_tier(current)`` moves exactly one
    tier instead of being stepped up again.
    """
    reasons: list[str] = []
    index = _fit_limits(load, table, reasons)
    index = _step_for_mode(load.mode, index, table, reasons)
    if minimum is not None:
        index = _at_least(minimum, index, table, reasons)
    index = _fit_timeout(load, index, table, reasons)
    return _choice(load, table.tiers[index], table, reasons)


def next_tier(name: str, table: TierTable) -> str | None:
    """The tier after ``name`` (for escalation after an out-of-memory kill), or None at the top."""
    index = table.index(name) + 1
    return table.names[index] if index < len(table.tiers) else None


def estimate_seconds(load: StitchLoad, tier: Tier, estimate: Estimate) -> float:
    """Wall-clock seconds for ``load`` on ``tier``: overhead, transfer, then the join itself.

    A copy is one thread moving bytes, so its time ignores the tier's CPUs; a
    re-encode's time is its megapixel-frames over the CPUs' throughput.
    """
    transfer = 2 * load.size_mb / estimate.transfer_mb_per_s
    if load.mode == "copy":
        work = load.duration_s / estimate.copy_realtime_factor
    else:
        frames = load.duration_s * estimate.assumed_fps
        megapixel_frames = frames * load.width * load.height / 1e6
        work = megapixel_frames / (estimate.reencode_megapixel_frames_per_cpu_second * tier.cpu)
    return estimate.overhead_s + transfer + work


def _fit_limits(load: StitchLoad, table: TierTable, reasons: list[str]) -> int:
    """Rule 1: the first tier with no breach.

    Each limit that ruled a tier out gives one reason, naming the largest tier
    it ruled out; the decisive one (ruling out the tier just below) comes first.
    """
    ruled_out: dict[str, tuple[int, str]] = {}
    for index, tier in enumerate(table.tiers):
        breaches = tier.limits.breaches(load, tier.name)
        if not breaches:
            ranked = sorted(ruled_out.values(), key=lambda pair: -pair[0])
            reasons.extend(message for _, message in ranked)
            return index
        ruled_out.update({kind: (index, message) for kind, message in breaches.items()})
    raise AssertionError("the last tier has no limits; load_tier_table checks it")


def _step_for_mode(mode: str, index: int, table: TierTable, reasons: list[str]) -> int:
    """Rule 2: a mode that needs more cores (a re-encode) starts higher."""
    target = min(index + table.mode_step_up.get(mode, 0), len(table.tiers) - 1)
    if target > index:
        reasons.append(
            f"{_MODE_LABELS[mode]} steps up from {table.names[index]} to {table.names[target]}"
        )
    return target


def _at_least(minimum: str, index: int, table: TierTable, reasons: list[str]) -> int:
    """Rule 3: never below the tier the caller asked for."""
    floor = table.index(minimum)
    if floor > index:
        reasons.append(f"at least {minimum} was asked for")
    return max(index, floor)


def _fit_timeout(load: StitchLoad, index: int, table: TierTable, reasons: list[str]) -> int:
    """Rule 4: step up until the estimate, with headroom, fits in the tier's timeout."""
    headroom = table.estimate.timeout_headroom
    first = table.tiers[index]
    for candidate in range(index, len(table.tiers)):
        tier = table.tiers[candidate]
        seconds = estimate_seconds(load, tier, table.estimate)
        if seconds * headroom <= tier.timeout_s:
            if candidate > index:
                reasons.append(_timeout_reason(load, first, table, "allows only"))
            return candidate
    reasons.append(
        _timeout_reason(load, table.tiers[-1], table, "is the largest tier, yet allows only")
        + ": raise its timeout in the tier table or split the stitch"
    )
    return len(table.tiers) - 1


def _timeout_reason(load: StitchLoad, tier: Tier, table: TierTable, verb: str) -> str:
    """Why ``tier``'s timeout is too short for ``load``, in numbers."""
    seconds = estimate_seconds(load, tier, table.estimate)
    headroom = table.estimate.timeout_headroom
    return (
        f"estimated {seconds:.0f} s on {tier.name} needs a timeout of {seconds * headroom:.0f} s "
        f"({_num(headroom)}x headroom); {tier.name} {verb} {tier.timeout_s} s"
    )


def _choice(load: StitchLoad, tier: Tier, table: TierTable, reasons: list[str]) -> TierChoice:
    """Price the chosen tier: at the estimate, and at the timeout."""
    seconds = estimate_seconds(load, tier, table.estimate)
    rate = tier.usd_per_second(table.prices)
    return TierChoice(
        tier=tier.name,
        cpu=format_cpu(tier.cpu),
        memory=tier.memory,
        timeout_s=tier.timeout_s,
        estimated_seconds=seconds,
        estimated_cost_usd=seconds * rate,
        max_cost_usd=tier.timeout_s * rate,
        fits_timeout=seconds * table.estimate.timeout_headroom <= tier.timeout_s,
        reasons=tuple(reasons),
    )


def _describe_frame(width: int, height: int) -> str:
    """``"4K input (3840x2160)"`` for 4K in either orientation, else ``"WxH input"``."""
    if (max(width, height), min(width, height)) == _FOUR_K:
        return f"4K input ({width}x{height})"
    return f"{width}x{height} input"


def _num(value: float) -> str:
    """A number as people write it: 100 not 100.0, 99.99 not 99.990000."""
    return f"{value:.2f}".rstrip("0").rstrip(".")
