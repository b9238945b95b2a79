"""Imported once by the pool's fork server, so every forked task starts warm.

Importing Manim costs about a second; paying it once per pool instead of once
per scene is what makes parallel rendering worth it on a small machine.
"""

from __future__ import annotations

import manim  # noqa: F401  (imported for its side effect: a warm interpreter)

import chalkline.stitcher.probe
import chalkline.worker.render  # noqa: F401
