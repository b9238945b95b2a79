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
code), and a user's YAML file may override any part of it. :func:`choose_tier`
is pure: no file, clock or network, so tests state its behaviour as tables.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import yaml

from chalkline.errors import InvalidSpec

StitchMode = Literal["copy", "reencode"]
MODES: tuple[StitchMode, ...] = get_args(StitchMode)
DEFAULT_TABLE_PATH = Path(__file__).with_name("tiers.yaml")
BYTES_PER_MB = 1_000_000
GIB = 2**30
#: Smaller than any job can run in; a tier below it most likely lost its unit.
MIN_MEMORY_GIB = 128 / 1024
_FOUR_K = (3840, 2160)
_MODE_LABELS: dict[str, str] = {"copy": "stream copy", "reencode": "re-encode"}
_DOCS_HINT = "see docs/configuration.md, section 'Stitch tiers'"


# --- quantities ------------------------------------------------------------------

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?|k)?\s*$")
_MEMORY_UNITS = {
    None: 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}  # fmt: skip
_CPU = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m)?\s*$")
_RESOLUTION = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def parse_memory_gib(quantity: str | int) -> float:
    """GiB in a Kubernetes / Cloud Run memory quantity: ``"2Gi"`` -> 2.0, ``"512Mi"`` -> 0.5.

    Binary (``Ki Mi Gi Ti``) and decimal (``k M G T``) suffixes are both valid
    quantities and mean different amounts (``2G`` is 1.86 GiB); a bare number
    is bytes, as in Kubernetes.
    """
    match = _MEMORY.match(str(quantity))
    if match is None or float(match.group(1)) <= 0:
        raise InvalidSpec(
            f"invalid memory quantity {quantity!r}", hint="write it like 2Gi, 512Mi or 4G"
        )
    return float(match.group(1)) * _MEMORY_UNITS[match.group(2)] / GIB


def format_memory_gib(gib: float) -> str:
    """The shortest exact binary quantity for ``gib``: 2.0 -> ``"2Gi"``, 0.5 -> ``"512Mi"``."""
    n_bytes = round(gib * GIB)
    for suffix, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if n_bytes % size == 0:
            return f"{n_bytes // size}{suffix}"
    return str(n_bytes)


def parse_cpu(quantity: str | float) -> float:
    """vCPUs in a CPU quantity: ``2`` or ``"2"`` -> 2.0, ``"500m"`` -> 0.5."""
    match = _CPU.match(str(quantity)) if not isinstance(quantity, bool) else None
    if match is None or float(match.group(1)) <= 0:
        raise InvalidSpec(f"invalid CPU quantity {quantity!r}", hint="write it like 1, 2 or 500m")
    cores = float(match.group(1))
    return cores / 1000 if match.group(2) else cores


def format_cpu(cores: float) -> str:
    """The quantity Cloud Run expects: 2.0 -> ``"2"``, 0.5 -> ``"500m"``."""
    return str(int(cores)) if cores.is_integer() else f"{round(cores * 1000)}m"


def parse_resolution(text: str) -> tuple[int, int]:
    """``"1920x1080"`` -> ``(1920, 1080)``; both sides must be positive."""
    match = _RESOLUTION.match(text)
    if match is None or 0 in (int(match.group(1)), int(match.group(2))):
        raise InvalidSpec(
            f"invalid resolution {text!r}", hint="write it as WIDTHxHEIGHT, e.g. 1080x1920"
        )
    return int(match.group(1)), int(match.group(2))


def fits_within(width: int, height: int, box: tuple[int, int]) -> bool:
    """Whether a frame fits inside ``box`` in either orientation (portrait counts as landscape)."""
    return max(width, height) <= max(box) and min(width, height) <= min(box)


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


# --- loading ---------------------------------------------------------------------


def load_tier_table(path: Path | None = None) -> TierTable:
    """The packaged table, or the packaged table overridden by the YAML file at ``path``.

    An override file has the packaged file's shape, every part optional:
    ``tiers`` entries change the named tiers field by field (or, with
    ``replace_tiers: true``, are the whole list); ``prices``, ``estimate`` and
    ``mode_step_up`` change the keys they give. Every error names the file and
    the key, and says what was expected.
    """
    defaults = _table_from(_Source(str(DEFAULT_TABLE_PATH)), _read_yaml(DEFAULT_TABLE_PATH), None)
    if path is None:
        return defaults
    return _table_from(_Source(str(path)), _read_yaml(path), defaults)


@dataclass(frozen=True)
class _Source:
    """The file values come from, so every error names it."""

    name: str

    def error(self, key: str, expected: str, got: object) -> InvalidSpec:
        """``FILE: KEY: expected WHAT, got VALUE``."""
        return InvalidSpec(f"{self.name}: {key}: expected {expected}, got {got!r}", hint=_DOCS_HINT)

    def mapping(self, value: object, key: str, allowed: Sequence[str]) -> dict[str, Any]:
        """``value`` as a mapping whose keys are all in ``allowed`` (catches typos)."""
        if not isinstance(value, dict):
            raise self.error(key, "a mapping", value)
        for name in value:
            if name not in allowed:
                raise InvalidSpec(
                    f"{self.name}: {key}: unknown key {name!r}; "
                    f"expected one of: {', '.join(allowed)}",
                    hint=_DOCS_HINT,
                )
        return value

    def require(self, raw: Mapping[str, object], key: str, names: Sequence[str]) -> None:
        """Fail on the first of ``names`` missing from ``raw``."""
        for name in names:
            if name not in raw:
                raise InvalidSpec(f"{self.name}: {key}: missing key {name!r}", hint=_DOCS_HINT)


def _read_yaml(path: Path) -> object:
    """The parsed file; an empty file is an empty mapping (it overrides nothing)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidSpec(f"tier table {path} does not exist") from None
    except OSError as err:
        raise InvalidSpec(f"cannot read tier table {path}: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InvalidSpec(f"{path}: not valid YAML: {err}") from None
    return {} if data is None else data


_TOP_KEYS = ("tiers", "replace_tiers", "mode_step_up", "prices", "estimate")
_TIER_KEYS = ("name", "limits", "resources")
_RESOURCE_KEYS = ("cpu", "memory", "timeout_s")
_TIER_NAME = re.compile(r"^[a-z][a-z0-9-]{0,29}$")


def _table_from(src: _Source, raw: object, base: TierTable | None) -> TierTable:
    """Build (``base`` None) or override ``base`` with the file's content, then check the whole."""
    data = src.mapping(raw, "top level", _TOP_KEYS)
    table = TierTable(
        tiers=_tiers_from(src, data, base),
        mode_step_up=_mode_step_up_from(src, data.get("mode_step_up"), base),
        prices=_section(src, "prices", data.get("prices"), Prices, base.prices if base else None),
        estimate=_section(
            src, "estimate", data.get("estimate"), Estimate, base.estimate if base else None
        ),
        source=src.name,
    )
    _check_tiers(src, table.tiers)
    return table


def _tiers_from(src: _Source, data: Mapping[str, Any], base: TierTable | None) -> tuple[Tier, ...]:
    """The full list (defaults, or ``replace_tiers``), or ``base``'s with named tiers changed."""
    replace_all = data.get("replace_tiers", False)
    if not isinstance(replace_all, bool):
        raise src.error("replace_tiers", "true or false", replace_all)
    if "tiers" not in data:
        if base is None or replace_all:
            raise InvalidSpec(f"{src.name}: missing key 'tiers'", hint=_DOCS_HINT)
        return base.tiers
    entries = data["tiers"]
    if not isinstance(entries, list):
        raise src.error("tiers", "a list of tiers, smallest first", entries)
    if base is None or replace_all:
        return tuple(_tier_from(src, f"tiers[{i}]", entry) for i, entry in enumerate(entries))
    changed = {tier.name: tier for tier in base.tiers}
    for i, entry in enumerate(entries):
        tier = _override_tier(src, f"tiers[{i}]", entry, base)
        if changed[tier.name] is not base.tier(tier.name):
            raise InvalidSpec(f"{src.name}: tiers[{i}]: tier {tier.name!r} is listed twice")
        changed[tier.name] = tier
    return tuple(changed.values())


def _tier_from(src: _Source, key: str, raw: object) -> Tier:
    """A complete tier: a name, its limits (all optional) and all three resources."""
    entry = src.mapping(raw, key, _TIER_KEYS)
    name = _tier_name(src, f"{key}.name", entry.get("name"))
    key = f"tiers[{name}]"
    src.require(entry, key, ("resources",))
    resources = _resources_from(src, f"{key}.resources", entry["resources"])
    src.require(entry["resources"] or {}, f"{key}.resources", _RESOURCE_KEYS)
    limits = Limits(**_limits_from(src, f"{key}.limits", entry.get("limits")))
    return Tier(name=name, limits=limits, **resources)


def _override_tier(src: _Source, key: str, raw: object, base: TierTable) -> Tier:
    """An existing tier with the fields ``raw`` gives changed, the others kept."""
    entry = src.mapping(raw, key, _TIER_KEYS)
    name = _tier_name(src, f"{key}.name", entry.get("name"))
    if name not in base.names:
        raise InvalidSpec(
            f"{src.name}: {key}.name: there is no tier {name!r} to change "
            f"(the tiers are {', '.join(base.names)})",
            hint="to define your own list of tiers, set replace_tiers: true and give every tier",
        )
    key = f"tiers[{name}]"
    current = base.tier(name)
    limits = replace(current.limits, **_limits_from(src, f"{key}.limits", entry.get("limits")))
    resources = _resources_from(src, f"{key}.resources", entry.get("resources"))
    return replace(current, limits=limits, **resources)


def _tier_name(src: _Source, key: str, value: object) -> str:
    """A name that can end a Cloud Run Job name (``chalkline-stitch-<name>``)."""
    if not isinstance(value, str) or not _TIER_NAME.match(value):
        raise src.error(key, "a tier name of lowercase letters, digits and '-' (max 30)", value)
    return value


def _limits_from(src: _Source, key: str, raw: object) -> dict[str, Any]:
    """The limits given; a null limit means "no limit", and no mapping at all gives none."""
    entry = src.mapping({} if raw is None else raw, key, tuple(_LIMIT_PARSERS))
    return {
        name: None if value is None else _LIMIT_PARSERS[name](src, f"{key}.{name}", value)
        for name, value in entry.items()
    }


def _resources_from(src: _Source, key: str, raw: object) -> dict[str, Any]:
    """The resources given, as :class:`Tier` field values."""
    entry = src.mapping({} if raw is None else raw, key, _RESOURCE_KEYS)
    found: dict[str, Any] = {}
    if "cpu" in entry:
        found["cpu"] = _quantity(
            src, f"{key}.cpu", entry["cpu"], parse_cpu, "vCPUs like 1, 2, 500m"
        )
    if "memory" in entry:
        found["memory_gib"] = _memory(src, f"{key}.memory", entry["memory"])
    if "timeout_s" in entry:
        found["timeout_s"] = _positive_int(src, f"{key}.timeout_s", entry["timeout_s"])
    return found


def _mode_step_up_from(src: _Source, raw: object, base: TierTable | None) -> dict[str, int]:
    """How many tiers each mode steps up; every mode must end up with a value."""
    given = {} if raw is None else src.mapping(raw, "mode_step_up", MODES)
    steps = dict(base.mode_step_up) if base else {}
    for mode, value in given.items():
        steps[mode] = _count(src, f"mode_step_up.{mode}", value)
    src.require(steps, "mode_step_up", MODES)
    return steps


_SectionT = TypeVar("_SectionT", Prices, Estimate)


def _section(
    src: _Source,
    key: str,
    raw: object,
    make: type[_SectionT],
    base: _SectionT | None,
) -> _SectionT:
    """A flat section of numbers: complete without ``base``, else ``base`` with changes."""
    if raw is None and base is not None:
        return base
    names = [f.name for f in fields(make)]
    entry = src.mapping({} if raw is None else raw, key, names)
    parsed = {name: _SECTION_PARSERS[name](src, f"{key}.{name}", v) for name, v in entry.items()}
    if base is not None:
        return replace(base, **parsed)
    src.require(parsed, key, names)
    return make(**parsed)


def _check_tiers(src: _Source, tiers: Sequence[Tier]) -> None:
    """Table-wide rules: unique names, smallest first, the last tier takes anything."""
    if not tiers:
        raise src.error("tiers", "at least one tier", [])
    names = [tier.name for tier in tiers]
    for name in names:
        if names.count(name) > 1:
            raise InvalidSpec(f"{src.name}: tiers: tier {name!r} is listed twice")
    for smaller, larger in pairwise(tiers):
        _check_grows(src, smaller, larger)
    if tiers[-1].limits != Limits():
        raise InvalidSpec(
            f"{src.name}: tiers[{tiers[-1].name}].limits: the last tier takes anything else, "
            f"so it must have no limits, got {tiers[-1].limits}",
            hint="remove its limits, or add a larger tier without limits after it",
        )


def _check_grows(src: _Source, smaller: Tier, larger: Tier) -> None:
    """A later tier must give and accept at least as much as the one before it."""
    for name, rank in _RANKS.items():
        if any(b < a for a, b in zip(rank(smaller), rank(larger), strict=True)):
            raise InvalidSpec(
                f"{src.name}: tiers[{larger.name}]: its {name} is smaller than "
                f"{smaller.name}'s; tiers go smallest first",
                hint="list tiers in order of size, each at least as large as the one before",
            )


def _limit_rank(value: float | tuple[int, int] | None) -> tuple[float, float]:
    """A limit as comparable numbers: no limit is infinite, a box is (long, short) side."""
    if value is None:
        return (math.inf, math.inf)
    if isinstance(value, tuple):
        return (max(value), min(value))
    return (value, value)


_RANKS: dict[str, Callable[[Tier], tuple[float, ...]]] = {
    "cpu": lambda t: (t.cpu,),
    "memory": lambda t: (t.memory_gib,),
    "timeout_s": lambda t: (t.timeout_s,),
    "max_clips": lambda t: _limit_rank(t.limits.max_clips),
    "max_size_mb": lambda t: _limit_rank(t.limits.max_size_mb),
    "max_duration_s": lambda t: _limit_rank(t.limits.max_duration_s),
    "max_resolution": lambda t: _limit_rank(t.limits.max_resolution),
}


# --- field parsers ---------------------------------------------------------------


def _positive_int(src: _Source, key: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise src.error(key, "a whole number of at least 1", value)
    return value


def _count(src: _Source, key: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise src.error(key, "a whole number of at least 0", value)
    return value


def _number(src: _Source, key: str, value: object, expected: str) -> float:
    """A finite int or float; YAML's true and false are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise src.error(key, expected, value)
    return float(value)


def _positive_number(src: _Source, key: str, value: object) -> float:
    number = _number(src, key, value, "a number above 0")
    if number <= 0:
        raise src.error(key, "a number above 0", value)
    return number


def _non_negative_number(src: _Source, key: str, value: object) -> float:
    number = _number(src, key, value, "a number of at least 0")
    if number < 0:
        raise src.error(key, "a number of at least 0", value)
    return number


def _headroom(src: _Source, key: str, value: object) -> float:
    expected = "a number of at least 1 (times the estimate)"
    number = _number(src, key, value, expected)
    if number < 1:
        raise src.error(key, expected, value)
    return number


def _memory(src: _Source, key: str, value: object) -> float:
    """A memory quantity; below 128Mi it is surely a forgotten unit (a bare number is bytes)."""
    expected = "a quantity of at least 128Mi like 2Gi or 512Mi (a bare number is bytes)"
    gib = _quantity(src, key, value, parse_memory_gib, expected)
    if gib < MIN_MEMORY_GIB:
        raise src.error(key, expected, value)
    return gib


def _resolution(src: _Source, key: str, value: object) -> tuple[int, int]:
    if not isinstance(value, str) or not _RESOLUTION.match(value):
        raise src.error(key, 'a frame size "WIDTHxHEIGHT" like "2560x1440"', value)
    return parse_resolution(value)


def _quantity(
    src: _Source, key: str, value: object, parse: Callable[[str], float], expected: str
) -> float:
    """A CPU or memory quantity, with the file and key in the error."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise src.error(key, expected, value)
    try:
        return parse(str(value))
    except InvalidSpec:
        raise src.error(key, expected, value) from None


_LIMIT_PARSERS: dict[str, Callable[[_Source, str, object], Any]] = {
    "max_clips": _positive_int,
    "max_size_mb": _positive_number,
    "max_duration_s": _positive_number,
    "max_resolution": _resolution,
}
_SECTION_PARSERS: dict[str, Callable[[_Source, str, object], float]] = {
    "cpu_second_usd": _non_negative_number,
    "gib_second_usd": _non_negative_number,
    "overhead_s": _non_negative_number,
    "transfer_mb_per_s": _positive_number,
    "copy_realtime_factor": _positive_number,
    "reencode_megapixel_frames_per_cpu_second": _positive_number,
    "assumed_fps": _positive_number,
    "timeout_headroom": _headroom,
}
