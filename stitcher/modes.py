"""The two ways a stitch joins clips, named once for the recipe and the tiers.

``copy`` joins the compressed streams as they are (one thread, seconds);
``reencode`` decodes and encodes every frame (every core, minutes). The recipe
decides which one a stitch needs; the tiers size the job for it.
"""

from __future__ import annotations

from typing import Literal, get_args

StitchMode = Literal["copy", "reencode"]
MODES: tuple[StitchMode, ...] = get_args(StitchMode)
