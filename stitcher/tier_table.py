"""The stitch tier table: the packaged ``tiers.yaml``, a user's overrides, and their checks.

Both files are checked the same way, when they are loaded rather than when a
stitch is sized, and every error names the file and the key and says what was
expected: the table is written by people, and a typo must be easy to find.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import yaml

from chalkline.core.errors import InvalidSpec
from chalkline.core.quantities import (
    match_resolution,
    parse_cpu,
    parse_memory_gib,
    parse_resolution,
)
from chalkline.stitcher.modes import MODES
from chalkline.stitcher.tiers import Estimate, Limits, Prices, Tier, TierTable

DEFAULT_TABLE_PATH = Path(__file__).with_name("tiers.yaml")
#: Smaller than any job can run in; a tier below it most likely lost its unit.
MIN_MEMORY_GIB = 128 / 1024
_DOCS_HINT = "see docs/configuration.md, section 'Stitch tiers'"


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
    if not isinstance(value, str) or match_resolution(value) is None:
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
