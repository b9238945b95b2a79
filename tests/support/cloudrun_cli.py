"""What one `chalkline run -f` of a RenderJob on the Cloud Run fake did.

The ``run_on_cloudrun`` fixture (tests/integration/conftest.py) returns a
:data:`RunOnCloudRun`: the test hands it a RenderJob, gets a
:class:`CloudRunJobRun` back, and asks it what happened.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from chalkline.storage import open_storage
from tests.support.cloudrun_fake import CloudRunFake


@dataclass(frozen=True)
class CloudRunJobRun:
    """What one `chalkline run -f` of a RenderJob on the Cloud Run fake did."""

    process: subprocess.CompletedProcess[str]
    #: The final RenderJob it printed, status included ({} when it printed none).
    job: dict[str, Any]
    fake: CloudRunFake
    scratch: Path

    def executions(self, kind: str) -> int:
        """How many executions of the ``render`` or ``stitch`` Jobs were started."""
        return self.fake.count(
            "POST", rf"/v2/projects/p/locations/r/jobs/chalkline-{kind}-[^/]+:run"
        )

    def output(self) -> str:
        """Everything printed, the tasks' logs included, for assertion messages."""
        return "\n".join(
            [self.process.stdout, self.process.stderr, *self.fake.task_logs().values()]
        )

    def video_frames(self) -> int:
        """The frames of ``status.videoUri``, downloaded and decoded."""
        uri = self.job["status"]["videoUri"]
        local = self.scratch / "video.mp4"
        open_storage(uri.rsplit("/", 1)[0]).download(uri, local)
        with av.open(str(local)) as container:
            return sum(1 for _ in container.decode(video=0))


RunOnCloudRun = Callable[[dict[str, Any]], CloudRunJobRun]
