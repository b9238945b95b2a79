"""Run mypy over the package as it is installed, not as it is laid out.

The distribution maps top-level folders into the ``chalkline`` namespace
(``worker/`` -> ``chalkline.worker``, see pyproject's package-dir), which an
editable install resolves with an import hook that mypy cannot follow. This
builds a tree of symlinks with the installed shape in ``.mypy-tree/`` and
points mypy at it, so files are checked once, under their real module names.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / ".mypy-tree"


def package_dirs() -> dict[str, Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = config["tool"]["setuptools"]["package-dir"]
    return {name: ROOT / folder for name, folder in mapping.items()}


def build_tree() -> None:
    for link in sorted(TREE.rglob("*"), reverse=True) if TREE.exists() else []:
        link.unlink() if link.is_symlink() or link.is_file() else link.rmdir()
    for package, folder in sorted(package_dirs().items()):
        target = TREE.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for entry in folder.iterdir():
            if entry.suffix == ".py" or entry.suffix == ".typed":
                (target / entry.name).symlink_to(entry)


def main() -> int:
    build_tree()
    return subprocess.call([sys.executable, "-m", "mypy", *sys.argv[1:]], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
