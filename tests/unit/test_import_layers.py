"""The parts of chalkline form layers: no two first-level parts import each other.

import-linter's contracts (pyproject.toml, run by scripts/test) say which
layer may import which. These tests ask the same import graph (grimp's, which
counts imports inside functions and under TYPE_CHECKING) two questions the
contracts leave implicit: is any pair of first-level parts in a cycle, even
through a third part; and is every first-level part named in the layers
contract, so that a new folder cannot slip past it.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Run inside the installed-shape tree; prints the graph's answers as JSON.
QUERY = """
import itertools, json, grimp
graph = grimp.build_graph("chalkline", cache_dir=None)
parts = sorted(m for m in graph.modules if m.count(".") == 1)
cycles = [
    [a, b]
    for a, b in itertools.combinations(parts, 2)
    if graph.chain_exists(a, b, as_packages=True) and graph.chain_exists(b, a, as_packages=True)
]
print(json.dumps({"parts": parts, "cycles": cycles}))
"""


def _package_tree() -> ModuleType:
    spec = importlib.util.spec_from_file_location("package_tree", ROOT / "scripts/package_tree.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    tree = _package_tree().build_tree(tmp_path_factory.mktemp("tree"))
    result = subprocess.run(
        [sys.executable, "-c", QUERY], cwd=tree, capture_output=True, text=True, check=True
    )
    answer: dict[str, list[str]] = json.loads(result.stdout)
    return answer


def test_no_two_first_level_parts_import_each_other(graph: dict[str, list[str]]) -> None:
    assert graph["cycles"] == []


def test_every_first_level_part_is_a_layer(graph: dict[str, list[str]]) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    named = {part.strip() for layer in layers for part in layer.split("|")}
    assert set(graph["parts"]) - named == set()
    assert "chalkline.worker" in graph["parts"] and "chalkline.operator" in graph["parts"]
