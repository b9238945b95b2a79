"""Quantities as people and Cloud Run write them: memory, CPU and frame sizes.

Parsers raise :class:`~chalkline.core.errors.InvalidSpec` with a hint that shows the
expected form; formatters give the shortest exact quantity Cloud Run accepts.
"""

from __future__ import annotations

import re

from chalkline.core.errors import InvalidSpec

GIB = 2**30

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


def match_resolution(text: str) -> tuple[int, int] | None:
    """``"1920x1080"`` -> ``(1920, 1080)``, or None when ``text`` is not ``WIDTHxHEIGHT``.

    Only the form is checked (spaces and a capital X are allowed), so that each
    caller can apply its own range and word its own error.
    """
    match = _RESOLUTION.match(text)
    return None if match is None else (int(match.group(1)), int(match.group(2)))


def parse_resolution(text: str) -> tuple[int, int]:
    """``"1920x1080"`` -> ``(1920, 1080)``; both sides must be positive."""
    size = match_resolution(text)
    if size is None or 0 in size:
        raise InvalidSpec(
            f"invalid resolution {text!r}", hint="write it as WIDTHxHEIGHT, e.g. 1080x1920"
        )
    return size


def fits_within(width: int, height: int, box: tuple[int, int]) -> bool:
    """Whether a frame fits inside ``box`` in either orientation (portrait counts as landscape)."""
    return max(width, height) <= max(box) and min(width, height) <= min(box)
