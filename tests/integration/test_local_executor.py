"""The local executor keeps the executor contract: idempotent launches, cancel, reports."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalkline.executors.base import RenderWork
from chalkline.executors.local import LocalExecutor
from chalkline.storage import FileStorage
from tests.support.executors import wait_for

SCRIPT = """\
from manim import *
class Quick(Scene):
    def construct(self):
        self.play(Create(Square()), run_time=0.2)
class Slow(Scene):
    def construct(self):
        self.play(Create(Circle()), run_time=0.1)
        self.wait(60)
"""


@pytest.fixture
def storage(tmp_path: Path) -> FileStorage:
    store = FileStorage(tmp_path / "store")
    store.write_bytes(store.join("script.py"), SCRIPT.encode())
    return store


@pytest.fixture
def executor(storage: FileStorage, tmp_path: Path) -> Iterator[LocalExecutor]:
    local = LocalExecutor(storage, tmp_path / "cache", workers=2)
    yield local
    local.close()


def work(storage: FileStorage, *scenes: str) -> list[RenderWork]:
    return [
        RenderWork(
            index=i,
            scene=scene,
            script_uri=storage.join("script.py"),
            quality="low",
            clip_uri=storage.join("clips", f"{scene}.mp4"),
            cache_key="job",
        )
        for i, scene in enumerate(scenes)
    ]


def test_a_render_stores_clips_and_manifests(executor: LocalExecutor, storage: FileStorage) -> None:
    handle = executor.launch_render(
        "job-g1-a0", work(storage, "Quick"), parallelism=2, scratch_uri=storage.join("scratch")
    )
    report = wait_for(executor, handle, {"Succeeded", "Failed"}, seconds=60)
    assert report.phase == "Succeeded"
    assert [t.phase for t in report.tasks] == ["Succeeded"]
    assert storage.exists(storage.join("clips", "Quick.mp4"))
    manifest = json.loads(storage.read_bytes(storage.join("clips", "Quick.json")))
    assert manifest["scene"] == "Quick" and manifest["clip"] == "Quick.mp4"


def test_the_same_key_never_launches_twice(executor: LocalExecutor, storage: FileStorage) -> None:
    first = executor.launch_render(
        "job-g1-a0", work(storage, "Quick"), parallelism=1, scratch_uri=storage.join("scratch")
    )
    second = executor.launch_render(
        "job-g1-a0", work(storage, "Quick"), parallelism=1, scratch_uri=storage.join("scratch")
    )
    assert first == second
    wait_for(executor, first, {"Succeeded"}, seconds=60)


def test_cancel_stops_running_tasks(executor: LocalExecutor, storage: FileStorage) -> None:
    handle = executor.launch_render(
        "job-g1-a0", work(storage, "Slow"), parallelism=1, scratch_uri=storage.join("scratch")
    )
    wait_for(executor, handle, {"Running"}, seconds=60)
    deadline = time.monotonic() + 30
    while executor.poll(handle).tasks[0].phase != "Running" and time.monotonic() < deadline:
        time.sleep(0.1)
    executor.cancel(handle)
    report = wait_for(executor, handle, {"Cancelled", "Failed", "Succeeded"}, seconds=15)
    assert report.phase == "Cancelled"
    assert [t.phase for t in report.tasks] == ["Cancelled"]
    assert not storage.exists(storage.join("clips", "Slow.mp4"))


def test_an_unknown_handle_is_reported_as_unknown(executor: LocalExecutor) -> None:
    report = executor.poll("local-render-gone")
    assert report.phase == "Unknown"
    executor.cancel("local-render-gone")  # harmless


class RemoteLikeStorage(FileStorage):
    """Storage whose objects are not files here, as gs:// will be: scripts are downloaded."""

    def local_path(self, uri: str) -> Path | None:
        return None


def test_a_script_that_cannot_be_fetched_fails_its_tasks_with_the_reason(tmp_path: Path) -> None:
    remote = RemoteLikeStorage(tmp_path / "remote")
    local = LocalExecutor(remote, tmp_path / "cache", workers=1)
    try:
        item = RenderWork(0, "Quick", remote.join("missing.py"), "low", remote.join("q.mp4"), "job")
        handle = local.launch_render(
            "job-g1-a0", [item], parallelism=1, scratch_uri=remote.join("scratch")
        )
        report = wait_for(local, handle, {"Failed", "Succeeded"}, seconds=30)
    finally:
        local.close()
    assert report.phase == "Failed"
    assert report.tasks[0].phase == "Failed"
    assert "cannot fetch the script" in report.tasks[0].message
    assert "missing.py does not exist" in report.tasks[0].message
