"""Planned tasks as a Cloud Run execution runs them: `chalkline worker --plan` per task index.

Each case runs against file:// storage and against gs:// on fake-gcs-server,
through the real CLI in a subprocess that learns its task from
``CLOUD_RUN_TASK_INDEX``, exactly as every task of one execution does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from chalkline.core.probe import probe_clip
from chalkline.core.records import PlannedScene, RenderPlan, StitchOrder, write_plan
from chalkline.storage import FileStorage, Storage, open_storage


@pytest.fixture(params=["file", "gs"])
def board(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """The shared storage of one job: a folder, or a bucket on the emulator."""
    if request.param == "file":
        return FileStorage(tmp_path / "board")
    bucket = request.getfixturevalue("gcs_bucket")
    assert isinstance(bucket, str)
    return open_storage(f"gs://{bucket}")


@pytest.fixture
def plan_uri(board: Storage, tiny_script: Path) -> str:
    """A staged script and a plan of two tasks: Red then Green."""
    script = board.join("jobs", "j1", "script", "tiny.py")
    board.write_bytes(script, tiny_script.read_bytes())
    tasks = tuple(
        PlannedScene(i, scene, board.join("jobs", "j1", "clips", f"{i:03d}-{scene}.mp4"))
        for i, scene in enumerate(["Red", "Green"])
    )
    uri = board.join("jobs", "j1", "plan.json")
    write_plan(board, uri, RenderPlan(script=script, quality="low", tasks=tasks))
    return uri


def chalkline(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chalkline", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def manifest_of(board: Storage, clip: str) -> dict[str, object]:
    data = json.loads(board.read_bytes(clip.removesuffix(".mp4") + ".json"))
    assert isinstance(data, dict)
    return data


@pytest.mark.render
def test_each_task_renders_its_scene_and_the_order_joins_them(
    board: Storage, plan_uri: str, tmp_path: Path
) -> None:
    clips = [board.join("jobs", "j1", "clips", name) for name in ["000-Red.mp4", "001-Green.mp4"]]

    first = chalkline("worker", "--plan", plan_uri, CLOUD_RUN_TASK_INDEX="0")
    # As a pod of a Kubernetes Indexed Job learns its index.
    second = chalkline("worker", CHALKLINE_PLAN=plan_uri, JOB_COMPLETION_INDEX="1")

    for result, clip, (index, scene, frames) in zip(
        [first, second], clips, [(0, "Red", 3), (1, "Green", 6)], strict=True
    ):
        assert result.returncode == 0, result.stderr
        manifest = manifest_of(board, clip)
        assert json.loads(result.stdout) == manifest
        assert (manifest["index"], manifest["scene"], manifest["frames"]) == (index, scene, frames)
        assert manifest["clip"] == clip.rsplit("/", 1)[1]
        assert manifest["size_bytes"] == len(board.read_bytes(clip))
    assert sorted(board.list(board.join("jobs", "j1", "clips"))) == sorted(
        [*clips, *(c.removesuffix(".mp4") + ".json" for c in clips)]
    )

    # A retried attempt of a finished task changes nothing and needs no script.
    stored = board.read_bytes(clips[1].removesuffix(".mp4") + ".json")
    board.delete_prefix(board.join("jobs", "j1", "script"))
    again = chalkline("worker", "--plan", plan_uri, CLOUD_RUN_TASK_INDEX="1")
    assert again.returncode == 0, again.stderr
    assert again.stdout.encode() == stored
    assert board.read_bytes(clips[1].removesuffix(".mp4") + ".json") == stored

    order_uri = board.join("jobs", "j1", "stitch.json")
    video = board.join("videos", "j1.mp4")
    result_uri = board.join("jobs", "j1", "stitch-result.json")
    write_plan(board, order_uri, StitchOrder(clips=tuple(clips), output=video, result=result_uri))

    stitched = chalkline("stitch", CHALKLINE_PLAN=order_uri)

    assert stitched.returncode == 0, stitched.stderr
    details = json.loads(board.read_bytes(result_uri))
    assert json.loads(stitched.stdout) == details
    assert details["mode"] == "copy"
    assert set(details) == {"mode", "reason", "duration", "sizeBytes", "seconds"}
    local = tmp_path / "video.mp4"
    board.download(video, local)
    assert int(details["sizeBytes"]) == local.stat().st_size
    assert probe_clip(local).frames == 3 + 6
    assert [p.name for p in Path(os.environ["TMPDIR"]).iterdir()] == []  # scratch removed


def test_an_index_outside_the_plan_fails_clearly(board: Storage, plan_uri: str) -> None:
    result = chalkline("worker", "--plan", plan_uri, CLOUD_RUN_TASK_INDEX="2")
    assert result.returncode == 1
    assert error_lines(result) == ["error: task index 2 is outside this plan's 2 task(s)"]
    assert board.list(board.join("jobs", "j1", "clips")) == []


def test_a_failed_task_leaves_its_error_as_the_pods_termination_message(
    board: Storage, plan_uri: str, tmp_path: Path
) -> None:
    log = tmp_path / "termination-log"
    log.write_text("")  # the kubelet creates the file; the worker only fills it
    board.delete_prefix(board.join("jobs", "j1", "script"))

    result = chalkline("worker", "--plan", plan_uri, CHALKLINE_TERMINATION_LOG=str(log))

    assert result.returncode == 1
    message = log.read_text()
    assert message.startswith("scene Red: script ")
    assert "named by the plan" in message


def test_a_missing_plan_or_script_is_named(board: Storage, plan_uri: str) -> None:
    missing = board.join("jobs", "nope", "plan.json")
    result = chalkline("worker", "--plan", missing)
    assert result.returncode == 1
    assert error_lines(result) == [f"error: render plan {missing} does not exist"]

    script = board.join("jobs", "j1", "script", "tiny.py")
    board.delete_prefix(board.join("jobs", "j1", "script"))
    result = chalkline("worker", "--plan", plan_uri, "--task-index", "0")
    assert result.returncode == 1
    assert error_lines(result)[0].startswith(f"error: script {script} named by the plan")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, "error: give either --plan URI, or all of --script, --scene and --output-dir"),
        (
            ["--plan", "file:///p.json", "--scene", "Red"],
            {},
            "error: --plan cannot be combined with --scene",
        ),
        (
            ["--script", "s.py", "--scene", "A", "--output-dir", "."],
            {"CHALKLINE_PLAN": "file:///p.json"},
            "error: CHALKLINE_PLAN=file:///p.json cannot be combined with "
            "--script, --scene, --output-dir",
        ),
        (
            ["--plan", "file:///p.json"],
            {"CLOUD_RUN_TASK_INDEX": "x"},
            "error: CLOUD_RUN_TASK_INDEX",
        ),
    ],
    ids=["neither", "both", "env-plan-and-local", "bad-env-index"],
)
def test_the_worker_takes_one_mode(args: list[str], env: dict[str, str], expected: str) -> None:
    result = chalkline("worker", *args, **env)
    assert result.returncode == 1
    assert error_lines(result)[0].startswith(expected)


#: Runs the CLI with Manim and the operator's libraries unimportable, as in the stitcher image.
WITHOUT_MANIM = """
import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in {"manim", "manimpango", "cairo", "kopf", "kubernetes"}:
            raise ImportError(f"{name} is not in the stitcher image")
sys.meta_path.insert(0, Absent())
from chalkline.cli import main
main(sys.argv[1:])
"""


def test_the_stitcher_needs_no_manim(board: Storage, make_clip: Callable[..., Path]) -> None:
    clips = []
    for name in ["a.mp4", "b.mp4"]:
        clips.append(board.join("clips", name))
        board.upload(make_clip(audio=False), clips[-1])
    order = StitchOrder(tuple(clips), board.join("v.mp4"), board.join("result.json"))
    write_plan(board, board.join("stitch.json"), order)

    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_MANIM, "stitch", "--plan", board.join("stitch.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(board.read_bytes(order.result))["mode"] == "copy"
    assert board.exists(order.output)


def test_a_stitch_order_excludes_clips_and_output() -> None:
    result = chalkline("stitch", "a.mp4", "-o", "out.mp4", "--plan", "file:///order.json")
    assert result.returncode == 1
    assert error_lines(result) == [
        "error: --plan cannot be combined with CLIP..., -o/--output",
    ]
    assert error_lines(chalkline("stitch"))[0].startswith("error: give the CLIPs to join")
