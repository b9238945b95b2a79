"""`chalkline run -f` with ``backend: cloudrun``: Cloud Run fake -> real workers -> GCS emulator.

The fake (tests/cloudrun_fake) runs each task's container command as a local
process; the operator config points the Jobs' command at this interpreter, so
every task runs the real ``chalkline worker --plan`` / ``chalkline stitch
--plan``, reading and writing the bucket on fake-gcs-server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chalkline.core.errors import InvalidSpec
from chalkline.operator.config import OperatorConfig
from chalkline.operator.wiring import build_controller
from tests.support.cloudrun_cli import RunOnCloudRun


def test_a_render_job_on_cloud_run_writes_a_gs_video(
    run_on_cloudrun: RunOnCloudRun, gcs_bucket: str, two_scenes: str
) -> None:
    video = f"gs://{gcs_bucket}/videos/two.mp4"
    job = {
        "apiVersion": "chalkline.dev/v1alpha1",
        "kind": "RenderJob",
        "metadata": {"name": "two"},
        "spec": {"source": {"inline": two_scenes}, "output": video, "backend": "cloudrun"},
    }

    run = run_on_cloudrun(job)

    assert run.process.returncode == 0, run.output()
    assert run.job["status"]["phase"] == "Succeeded"
    assert run.job["status"]["videoUri"] == video
    # What the three tasks used, priced at the tier table's (packaged) prices.
    from chalkline.stitcher.tier_table import load_tier_table

    cost, prices = run.job["status"]["cost"], load_tier_table().prices
    assert cost["cpuSeconds"] > 0 and cost["gibSeconds"] > 0
    usd = cost["cpuSeconds"] * prices.cpu_second_usd + cost["gibSeconds"] * prices.gib_second_usd
    assert cost["usd"] == f"{usd:.6f}"
    assert run.video_frames() == 3 + 6
    # One execution rendered both scenes (one task each), one stitched them.
    assert run.executions("render") == 1
    assert run.executions("stitch") == 1


@pytest.mark.parametrize(
    ("image", "env", "missing"),
    [
        (None, {"CHALKLINE_CLOUDRUN_PROJECT": "p", "CHALKLINE_CLOUDRUN_REGION": "r"}, "image"),
        ("img", {"CHALKLINE_CLOUDRUN_REGION": "r"}, "project"),
        ("img", {"CHALKLINE_CLOUDRUN_PROJECT": "p"}, "region"),
    ],
)
def test_the_cloudrun_backend_names_what_it_is_missing(
    tmp_path: Path, image: str | None, env: dict[str, str], missing: str
) -> None:
    config = OperatorConfig(backend="cloudrun", storage=f"file://{tmp_path}", cloudrun_image=image)
    with pytest.raises(InvalidSpec, match=f"needs a .*{missing}"):
        build_controller(config, lambda ns, name: None, env=env)
