"""Quality presets: the names users type, mapped to Manim's render settings."""

from __future__ import annotations

from dataclasses import dataclass

from chalkline.core.errors import InvalidSpec


@dataclass(frozen=True)
class Quality:
    """One preset: its user-facing name, Manim's config name and frame geometry."""

    name: str
    manim_name: str
    width: int
    height: int
    fps: int

    @property
    def label(self) -> str:
        """Manim's own short label, e.g. ``480p15``."""
        return f"{self.height}p{self.fps}"


QUALITIES: dict[str, Quality] = {
    q.name: q
    for q in (
        Quality("low", "low_quality", 854, 480, 15),
        Quality("medium", "medium_quality", 1280, 720, 30),
        Quality("high", "high_quality", 1920, 1080, 60),
        Quality("4k", "fourk_quality", 3840, 2160, 60),
    )
}


def quality_named(name: str) -> Quality:
    """Return the preset called ``name``, or explain which names exist."""
    try:
        return QUALITIES[name.lower()]
    except KeyError:
        known = ", ".join(f"{q.name} ({q.label})" for q in QUALITIES.values())
        raise InvalidSpec(f"unknown quality {name!r}", hint=f"use one of: {known}") from None
