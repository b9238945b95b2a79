"""Stitching clips into one video with FFmpeg.

Probe every clip with PyAV, decide between a cheap stream copy and a full
normalising re-encode (:mod:`~chalkline.stitcher.recipe`, pure and testable as
data), then run FFmpeg so that a failure never leaves a partial output
(:mod:`~chalkline.stitcher.concat`).
"""
