"""Imported once by the pool's fork server, so every forked task starts warm.

Importing Manim costs about a second; paying it once per pool instead of once
per scene is what makes parallel rendering worth it on a small machine. The
program's main module (usually the CLI) is preloaded by the fork server
itself (``"__main__"`` in the pool's preload list), so this module never
imports the CLI; ``click`` is imported here for programs started as
``python -m chalkline``, whose main module every child imports by name.
"""

from __future__ import annotations

import gc

import click  # noqa: F401  (what the CLI's main module needs; a warm interpreter)
import manim  # noqa: F401  (imported for its side effect: a warm interpreter)

import chalkline.core.probe
import chalkline.worker.render  # noqa: F401

# Children fork from here; freezing what is loaded keeps the garbage collector
# from touching (and so copying) every inherited page in every child.
gc.freeze()
