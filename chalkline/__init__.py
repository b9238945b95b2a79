"""chalkline: render Manim scripts in parallel and stitch the clips with FFmpeg.

The distribution maps several top-level folders into this one namespace
(``worker/`` -> ``chalkline.worker``, ``stitcher/`` -> ``chalkline.stitcher``),
so each component lives in a folder named after it while nothing can shadow a
standard-library module.
"""

__version__ = "0.1.0"
