"""The package in its installed shape, as a tree of symlinks, for tools that walk folders.

The distribution maps top-level folders into the ``chalkline`` namespace
(``worker/`` -> ``chalkline.worker``, see pyproject's package-dir), which an
editable install resolves with an import hook. Tools that find modules by
walking folders (mypy, import-linter's grimp) cannot follow that hook, so
:func:`build_tree` links every module (hard links) under ``.package-tree/`` at the path its
module name implies, and the tools are pointed there: each file is checked
once, under its real module name.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / ".package-tree"


def package_dirs() -> dict[str, Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = config["tool"]["setuptools"]["package-dir"]
    return {name: ROOT / folder for name, folder in mapping.items()}


def build_tree(tree: Path = TREE) -> Path:
    """(Re)build the installed shape in ``tree`` (default ``.package-tree/``) and return it."""
    for link in sorted(tree.rglob("*"), reverse=True) if tree.exists() else []:
        link.unlink() if link.is_symlink() or link.is_file() else link.rmdir()
    for package, folder in sorted(package_dirs().items()):
        target = tree.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for entry in folder.iterdir():
            if entry.suffix in (".py", ".typed"):
                _link(entry, target / entry.name)
    return tree


def _link(source: Path, link: Path) -> None:
    """A hard link (a copy across file systems): tools that resolve symlinks
    (grimp does, to find a package's folder) would land back in the source layout."""
    try:
        link.hardlink_to(source)
    except OSError:
        shutil.copy2(source, link)
