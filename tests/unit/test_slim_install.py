"""The stitcher image leaves Manim, Kopf and the Kubernetes client out: what still works.

Each case runs the real CLI in a fresh interpreter in which those packages
cannot be imported (``sys.modules[name] = None`` makes ``import name`` fail
exactly as if the package were not installed), as in that image.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chalkline.cli import COMMANDS

SLIM = "import sys\nfor name in ('manim', 'kopf', 'kubernetes'):\n    sys.modules[name] = None\n"


def chalkline_without_optional_packages(*args: str) -> subprocess.CompletedProcess[str]:
    program = SLIM + f"from chalkline.cli import main\nmain({list(args)!r})\n"
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )


def test_the_command_list_needs_none_of_them() -> None:
    result = chalkline_without_optional_packages("--help")

    assert result.returncode == 0, result.stderr
    for name, entry in COMMANDS.items():
        assert f"{name}  " in result.stdout and entry.summary in result.stdout


@pytest.mark.parametrize("command", ["stitch", "tier"])
def test_the_stitchers_commands_work(command: str) -> None:
    result = chalkline_without_optional_packages(command, "--help")

    assert result.returncode == 0, result.stderr


def test_the_operator_says_where_to_get_kopf() -> None:
    result = chalkline_without_optional_packages("operator", "--help")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "error: `chalkline operator` needs the Python package 'kopf'" in result.stderr
    assert "hint: use the operator image" in result.stderr


def test_a_render_says_where_to_get_manim(tmp_path: Path) -> None:
    script = tmp_path / "scene.py"
    script.write_text("from manim import Scene\nclass Intro(Scene):\n    pass\n")
    out = tmp_path / "out"
    out.mkdir()
    args = ["worker", "--script", str(script), "--scene", "Intro", "--output-dir", str(out)]

    result = chalkline_without_optional_packages(*args)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "error: this command needs the Python package 'manim'" in result.stderr
    assert "hint: use the worker image" in result.stderr
    assert list(out.iterdir()) == []
