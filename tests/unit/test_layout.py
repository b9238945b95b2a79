"""The repository layout never shadows the standard library, and installs as designed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_top_level_folder_shadows_a_standard_module() -> None:
    importable = {
        entry.name
        for entry in ROOT.iterdir()
        if entry.is_dir() and (entry / "__init__.py").exists() and entry.name.isidentifier()
    }
    assert importable.isdisjoint(sys.stdlib_module_names), importable & sys.stdlib_module_names


def test_python_run_from_the_repository_root_gets_the_standard_operator_module() -> None:
    probe = "import operator, sys; assert operator.eq(1, 1); print(operator.__file__)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert ROOT.as_posix() not in result.stdout


def test_every_component_imports_under_the_chalkline_namespace() -> None:
    probe = (
        "import chalkline.operator.reconciler, chalkline.worker.render, "
        "chalkline.stitcher.concat, chalkline.executors.local, chalkline.storage, "
        "chalkline.core.layout, chalkline.drivers.local_render, chalkline.cli"
    )
    subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True)
