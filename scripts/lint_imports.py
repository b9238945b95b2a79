"""Check the import-linter contracts in pyproject.toml over the installed shape.

grimp, import-linter's graph builder, finds modules by walking the package's
folder, so it runs from ``.package-tree/`` (see package_tree): import-linter
puts its working folder first on the path. Every import counts: at module
level, inside functions, and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from package_tree import ROOT, build_tree


def main() -> int:
    tree = build_tree()
    lint = Path(sys.executable).with_name("lint-imports")
    config = str(ROOT / "pyproject.toml")
    return subprocess.call([str(lint), config, "--no-cache", *sys.argv[1:]], cwd=tree)


if __name__ == "__main__":
    sys.exit(main())
