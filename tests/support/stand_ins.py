"""Stand-ins for ``chalkline worker --plan`` and ``chalkline stitch --plan``, for executor tests.

An executor's contract is plans in, clips and results out; Manim is not part
of it. These few lines of Python do what the real entry points do with a
plan (write a clip and its manifest beside it, or a video and a result),
taking the task index as each platform gives it, so executor tests run in
milliseconds per task. Run as ``python -c STAND_IN``; file:// storage only.
"""

from __future__ import annotations

WORKER = """
import json, os, pathlib, urllib.parse
path = lambda uri: pathlib.Path(urllib.parse.urlparse(uri).path)
plan = json.loads(path(os.environ["CHALKLINE_PLAN"]).read_text())
index = os.environ.get("CLOUD_RUN_TASK_INDEX") or os.environ.get("JOB_COMPLETION_INDEX")
task = plan["tasks"][int(index)]
clip = path(task["clip"])
clip.parent.mkdir(parents=True, exist_ok=True)
clip.write_bytes(b"clip of " + task["scene"].encode())
manifest = dict(index=task["index"], scene=task["scene"], clip=clip.name, frames=3,
    duration=0.2, size_bytes=clip.stat().st_size, width=854, height=480, fps=15.0,
    has_audio=False, render_seconds=0.1, manim_version="test", quality=plan["quality"])
clip.with_suffix(".json").write_text(json.dumps(manifest))
"""
"""A worker: task CLOUD_RUN_TASK_INDEX (or JOB_COMPLETION_INDEX) writes its clip and manifest."""

STITCHER = """
import json, os, pathlib, urllib.parse
path = lambda uri: pathlib.Path(urllib.parse.urlparse(uri).path)
order = json.loads(path(os.environ["CHALKLINE_PLAN"]).read_text())
path(order["output"]).write_bytes(b"".join(path(c).read_bytes() for c in order["clips"]))
path(order["result"]).write_text(json.dumps({"mode": "copy", "sizeBytes": "42"}))
"""
"""A stitcher: joins the clips' bytes and stores the result JSON."""
