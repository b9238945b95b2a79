"""Imported once by the pool's fork server, so every forked task starts warm.

Importing Manim costs about a second; paying it once per pool instead of once
per scene is what makes parallel rendering worth it on a small machine.
"""

from __future__ import annotations

import gc

import manim  # noqa: F401  (imported for its side effect: a warm interpreter)

import chalkline.cli  # every child imports the program's main module, often the CLI
import chalkline.stitcher.probe
import chalkline.worker.render  # noqa: F401

# Children fork from here; freezing what is loaded keeps the garbage collector
# from touching (and so copying) every inherited page in every child.
gc.freeze()
