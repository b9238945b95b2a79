"""How big a render task's container is, per quality: one table for every remote backend.

One Manim process keeps 1.1-1.6 cores busy (its encoder runs in threads), so
every quality starts at 2 vCPUs; memory grows with the frame size. Cloud Run
Jobs and Kubernetes pods take the same figures; each backend's settings can
replace those of some qualities (``cloudrunRenderResources``,
``kubernetesRenderResources``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class RenderSize:
    """A container's CPU and memory as Kubernetes quantities: ``cpu="2"``, ``memory="4Gi"``."""

    cpu: str
    memory: str


DEFAULT_RENDER_SIZES: dict[str, RenderSize] = {
    "low": RenderSize("2", "2Gi"),
    "medium": RenderSize("2", "4Gi"),
    "high": RenderSize("4", "8Gi"),
    "4k": RenderSize("4", "16Gi"),
}


def render_sizes_with(overrides: Mapping[str, Mapping[str, str]]) -> dict[str, RenderSize]:
    """The default sizes with some qualities' ``{cpu, memory}`` replaced."""
    sizes = dict(DEFAULT_RENDER_SIZES)
    for quality, limits in overrides.items():
        sizes[quality] = RenderSize(str(limits["cpu"]), str(limits["memory"]))
    return sizes


def described(sizes: Mapping[str, RenderSize]) -> str:
    """``low 2/2Gi, medium 2/4Gi, ...``: the table as the docs and --help say it."""
    return ", ".join(f"{quality} {size.cpu}/{size.memory}" for quality, size in sizes.items())
