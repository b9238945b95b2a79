"""The core every part shares: errors, quality presets, the RenderJob spec, scene
discovery, safe outputs, clip probing, resource quantities, the storage layout
and the records that cross process boundaries.

The lowest layer: it imports nothing else of chalkline, and neither Manim nor
Kopf nor the Kubernetes client (an import-linter contract in pyproject.toml).
"""
