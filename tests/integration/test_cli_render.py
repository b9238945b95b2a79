"""The render and worker commands as a user runs them: a real process, real exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chalkline.core.layout import clip_name, script_hash

BROKEN_SCENE = """
from manim import *
class Fine(Scene):
    def construct(self):
        self.play(Create(Square()), run_time=0.1)
class Broken(Scene):
    def construct(self):
        self.play(Create(Circle()), run_time=0.1)
        raise ValueError("the radius must be positive")
"""


def chalkline(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chalkline", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def test_render_writes_the_video_and_says_how(tiny_script: Path, tmp_path: Path) -> None:
    result = chalkline("render", tiny_script, "-o", tmp_path / "v.mp4", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "v.mp4").stat().st_size > 0
    assert "[3/3]" in result.stdout
    assert "stitch mode: copy" in result.stdout
    assert f"wrote {tmp_path / 'v.mp4'}" in result.stdout


@pytest.mark.parametrize(
    ("source", "args", "expected"),
    [
        ("class A(Scene)\n    pass\n", [], r"scenes.py:1:15: syntax error"),
        ("class Helper:\n    pass\n", [], "no Scene classes found"),
        ("class A(Scene):\n    pass\n", ["Nope"], "scene 'Nope' not found"),
    ],
    ids=["syntax-error", "no-scenes", "unknown-scene"],
)
def test_bad_scripts_fail_with_one_clear_error(
    write_script: Callable[..., Path],
    tmp_path: Path,
    source: str,
    args: list[str],
    expected: str,
) -> None:
    script = write_script(source)
    result = chalkline("render", script, *args, "-o", tmp_path / "v.mp4")
    assert result.returncode == 1
    assert len(error_lines(result)) == 1
    assert expected in error_lines(result)[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "v.mp4").exists()


def test_unknown_scene_lists_the_existing_ones(tiny_script: Path, tmp_path: Path) -> None:
    result = chalkline("render", tiny_script, "Purple", "-o", tmp_path / "v.mp4")
    assert result.returncode == 1
    assert "scenes in this script: Red, Green, Blue" in result.stderr


def test_missing_script(tmp_path: Path) -> None:
    result = chalkline("render", tmp_path / "nope.py", "-o", tmp_path / "v.mp4")
    assert result.returncode == 1
    assert error_lines(result) == [f"error: script not found: {tmp_path / 'nope.py'}"]


def test_unknown_quality_names_the_choices(tiny_script: Path, tmp_path: Path) -> None:
    result = chalkline("render", tiny_script, "-o", tmp_path / "v.mp4", "-q", "ultra")
    assert result.returncode == 2
    assert "'ultra' is not one of 'low', 'medium', 'high', '4k'" in result.stderr


def test_missing_output_folder_fails_before_rendering(tiny_script: Path, tmp_path: Path) -> None:
    result = chalkline("render", tiny_script, "-o", tmp_path / "no" / "v.mp4")
    assert result.returncode == 1
    assert error_lines(result)[0].startswith("error: output folder does not exist")
    assert not (tmp_path / "cache").exists()


def test_a_scene_that_raises_is_named_with_its_traceback(
    write_script: Callable[..., Path], tmp_path: Path
) -> None:
    script = write_script(BROKEN_SCENE)
    result = chalkline("render", script, "-o", tmp_path / "v.mp4", "--no-progress")
    assert result.returncode == 1
    assert error_lines(result) == [
        "error: scene 'Broken' failed: ValueError: the radius must be positive"
    ]
    assert 'raise ValueError("the radius must be positive")' in result.stderr
    assert not (tmp_path / "v.mp4").exists()


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_ctrl_c_stops_every_worker_and_leaves_no_output(
    write_script: Callable[..., Path], tmp_path: Path
) -> None:
    script = write_script(
        """
        from manim import *
        class Long(Scene):
            def construct(self):
                self.play(Create(Square()), run_time=0.1)
                self.wait(60)
        class Longer(Scene):
            def construct(self):
                self.play(Create(Circle()), run_time=0.1)
                self.wait(90)
        """
    )
    output = tmp_path / "v.mp4"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chalkline",
            "render",
            str(script),
            "-o",
            str(output),
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    started = 0
    while started < 2:
        line = process.stdout.readline()
        assert line, "render ended before both scenes started"
        started += ": started" in line
    time.sleep(1.0)  # let both workers get into their scene
    workers = descendants(process.pid)
    assert len(workers) >= 3  # the fork server and one child per scene
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)]
    assert not output.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".v.")] == []
    temp = Path(os.environ["TMPDIR"])
    assert [p.name for p in temp.iterdir() if p.name.startswith("chalkline")] == []


def test_worker_writes_one_clip_and_its_manifest(tiny_script: Path, tmp_path: Path) -> None:
    out = tmp_path / "clips"
    out.mkdir()
    result = chalkline(
        "worker", "--script", tiny_script, "--scene", "Green", "--output-dir", out, "--index", "4"
    )
    assert result.returncode == 0, result.stderr
    name = clip_name("Green", "low", script_hash(tiny_script.read_text()))
    manifest = json.loads((out / name).with_suffix(".json").read_text())
    assert json.loads(result.stdout) == manifest
    assert (manifest["scene"], manifest["index"]) == ("Green", 4)
    assert manifest["clip"] == name
    assert manifest["frames"] == 6 and manifest["fps"] == 15.0
    assert (manifest["width"], manifest["height"]) == (854, 480)
    assert manifest["duration"] == pytest.approx(0.4, abs=0.07)
    assert manifest["size_bytes"] == (out / name).stat().st_size
    assert manifest["has_audio"] is False
    assert manifest["render_seconds"] > 0
    assert manifest["manim_version"].startswith("0.")
    assert sorted(p.name for p in out.iterdir()) == [name.replace(".mp4", ".json"), name]


def test_worker_rejects_a_missing_output_folder(tiny_script: Path, tmp_path: Path) -> None:
    result = chalkline(
        "worker", "--script", tiny_script, "--scene", "Red", "--output-dir", tmp_path / "nope"
    )
    assert result.returncode == 1
    assert error_lines(result)[0].startswith("error: output folder does not exist")
